// PushProcess with the real watcher process (himalaya-coord-push) against the
// in-process fake IMAP server: it idles and a change becomes a push sync,
// stop() logs out, a killed watcher is started again, one with nothing to
// watch is not, a missing binary is off, and the checkhealth check answers.
#include "host/push_process.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <csignal>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "tests/support/files.h"
#include "tests/support/imap_fake_server.h"
#include "tests/support/run_loop.h"

namespace himalaya::host {
namespace {

using imap::testing::FakeServer;
using testing::run_until;

const std::string password = "pw-process-test-9Zr";

class PushProcessTest : public ::testing::Test {
 protected:
  PushProcessTest() : server(io, nullptr) {
    server.greeting = "* OK [CAPABILITY IMAP4rev1 IDLE] fake ready\r\n";
  }

  std::string write_rc() {
    const std::string rc = (dir.path() / "mbsyncrc").string();
    testing::spit(rc, "IMAPAccount fake\nHost 127.0.0.1\nPort " + std::to_string(server.port()) +
                          "\nUser alice\nPassCmd \"echo " + password +
                          "\"\nTLSType None\n\nIMAPStore fake-remote\nAccount fake\n\n"
                          "MaildirStore fake-local\nPath " +
                          (dir.path() / "Mail/").string() +
                          "\n\nChannel fake\nFar :fake-remote:\nNear :fake-local:\n");
    return rc;
  }

  std::unique_ptr<PushProcess> make(PushMode mode, const std::string& rc,
                                    const std::string& program = HIMALAYA_PUSH_BINARY) {
    PushProcess::Options o;
    o.program = program;
    o.command = {"mbsync", "-c", rc, "-a"};
    o.push.mode = mode;
    o.first_restart = 0.1;
    o.max_restart = 0.4;
    o.check_timeout = 20;
    PushProcess::Hooks h;
    h.mail_changed = [this](const std::string& account, const std::string& mailbox) {
      ++changes;
      changed_in = account + " " + mailbox;
    };
    h.warn = [this](const std::string& m) { warnings.push_back(m); };
    h.log = [this](const std::string& m) { log += m + "\n"; };
    return std::make_unique<PushProcess>(
        io, std::move(o), std::make_shared<coordinator::SystemClock>(), std::move(h));
  }

  bool idling(const PushProcess& p) {
    return p.status().state == PushStatus::State::idling && server.idling;
  }

  // The pid of the watcher the log last said it started; -1 if none.
  pid_t watcher_pid() const {
    std::smatch m;
    pid_t pid = -1;
    std::string rest = log;
    while (std::regex_search(rest, m, std::regex("watcher started \\(pid ([0-9]+)\\)"))) {
      pid = std::stoi(m[1]);
      rest = m.suffix();
    }
    return pid;
  }

  boost::asio::io_context io;
  FakeServer server;
  testing::TempDir dir{"push-process-"};
  int changes = 0;
  std::string changed_in;  // the account and mailbox of the last change
  std::vector<std::string> warnings;
  std::string log;
};

TEST_F(PushProcessTest, TheWatcherIdlesAndAChangeBecomesAPushSync) {
  auto p = make(PushMode::on, write_rc());
  EXPECT_EQ(p->status().why, "not the primary");
  p->start();
  ASSERT_TRUE(run_until(io, [&] { return idling(*p); })) << log;
  server.send("* 4 EXISTS\r\n");
  ASSERT_TRUE(run_until(io, [&] { return changes == 1; })) << log;
  EXPECT_EQ(changed_in, "fake INBOX") << "the watcher says where the change was";
  ASSERT_TRUE(run_until(io, [&] { return p->status().last_event.has_value(); })) << log;
  EXPECT_EQ(p->status().mailboxes, std::vector<std::string>{"INBOX"});
  EXPECT_EQ(log.find(password), std::string::npos) << log;
  EXPECT_TRUE(warnings.empty());
}

TEST_F(PushProcessTest, StopMakesTheWatcherLogOutAndExit) {
  auto p = make(PushMode::on, write_rc());
  p->start();
  ASSERT_TRUE(run_until(io, [&] { return idling(*p); })) << log;
  const pid_t pid = watcher_pid();
  ASSERT_GT(pid, 0) << log;
  p->stop("not the primary");
  EXPECT_EQ(p->status().state, PushStatus::State::off);
  ASSERT_TRUE(run_until(io, [&] { return server.logged_out; })) << log;
  ASSERT_TRUE(run_until(io, [&] { return ::kill(pid, 0) != 0; })) << "the watcher is reaped";
  EXPECT_EQ(server.connections, 1);
}

TEST_F(PushProcessTest, AKilledWatcherIsStartedAgain) {
  auto p = make(PushMode::on, write_rc());
  p->start();
  ASSERT_TRUE(run_until(io, [&] { return idling(*p); })) << log;
  const pid_t first = watcher_pid();
  ASSERT_EQ(::kill(first, SIGKILL), 0);
  ASSERT_TRUE(run_until(io, [&] { return watcher_pid() != first && idling(*p); })) << log;
  EXPECT_NE(log.find("was killed by signal 9"), std::string::npos) << log;
  EXPECT_EQ(server.connections, 2);
}

TEST_F(PushProcessTest, AWatcherWithNothingToWatchIsNotStartedAgain) {
  auto p = make(PushMode::automatic, (dir.path() / "missing-rc").string());
  p->start();
  ASSERT_TRUE(run_until(io, [&] { return log.find("nothing to watch") != std::string::npos; }))
      << log;
  EXPECT_EQ(p->status().state, PushStatus::State::off);
  EXPECT_NE(p->status().why.find("missing-rc"), std::string::npos) << p->status().why;
  testing::run_for(io, 0.5);  // several restart delays: none may happen
  EXPECT_EQ(log.find("starting it again"), std::string::npos) << log;
  EXPECT_TRUE(warnings.empty()) << "'auto' is quiet";
}

TEST_F(PushProcessTest, ARefusalThatIsNotUtf8IsReportedNotACrash) {
  server.refuse_login = true;
  server.refusal_text = "Anmeldung fehlgeschlagen f\xfcr alice";  // Latin-1, as some servers send
  auto p = make(PushMode::on, write_rc());
  p->start();
  ASSERT_TRUE(run_until(io, [&] { return log.find("nothing to watch") != std::string::npos; }))
      << log;
  EXPECT_NE(p->status().why.find("refused the login"), std::string::npos) << p->status().why;
  EXPECT_EQ(log.find("was killed"), std::string::npos) << log;
  EXPECT_EQ(log.find("starting it again"), std::string::npos) << log;
  EXPECT_EQ(warnings.size(), 1U);
}

TEST_F(PushProcessTest, AMissingWatcherBinaryIsOffWithOneWarning) {
  auto p = make(PushMode::on, write_rc(), "/nonexistent/himalaya-coord-push");
  p->start();
  EXPECT_EQ(p->status().state, PushStatus::State::off);
  EXPECT_NE(p->status().why.find("/nonexistent/himalaya-coord-push"), std::string::npos);
  p->stop("not the primary");
  p->start();
  EXPECT_EQ(warnings.size(), 1U);
}

TEST_F(PushProcessTest, TheCheckLogsInAndReportsIdle) {
  auto p = make(PushMode::on, write_rc());
  std::optional<nlohmann::json> result;
  p->check([&](nlohmann::json r) { result = std::move(r); });
  ASSERT_TRUE(run_until(io, [&] { return result.has_value(); })) << log;
  EXPECT_EQ((*result)["ok"], true) << result->dump();
  EXPECT_EQ((*result)["idle"], true) << result->dump();
  EXPECT_EQ((*result)["user"], "alice");
  EXPECT_EQ((*result)["enabled"], true);
  EXPECT_EQ(result->dump().find(password), std::string::npos);
  ASSERT_TRUE(run_until(io, [&] { return server.logged_out; }));
}

TEST_F(PushProcessTest, TheCheckSaysWhenTheServerHasNoIdle) {
  server.greeting = "* OK [CAPABILITY IMAP4rev1] ready\r\n";
  server.login_capabilities = "IMAP4rev1";
  auto p = make(PushMode::automatic, write_rc());
  std::optional<nlohmann::json> result;
  p->check([&](nlohmann::json r) { result = std::move(r); });
  ASSERT_TRUE(run_until(io, [&] { return result.has_value(); })) << log;
  EXPECT_EQ((*result)["ok"], true) << result->dump();
  EXPECT_EQ((*result)["idle"], false) << result->dump();
  EXPECT_EQ((*result)["enabled"], "auto");
}

}  // namespace
}  // namespace himalaya::host
