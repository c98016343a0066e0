// PushWatcher against the in-process fake IMAP server: it idles and reports a
// change, gets its password from PassCmd and shows it to nobody else,
// reconnects when the server drops it, connects again at once after a
// suspend, gives up quietly ('auto') or with one warning (true) on a server
// without IDLE, a refused login or an unusable configuration, and calls
// nothing back after stop(). Every wait is run_until with a deadline.
#include "push/watcher.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <memory>
#include <string>
#include <vector>

#include "coordinator/clock.h"
#include "tests/support/files.h"
#include "tests/support/imap_fake_server.h"
#include "tests/support/run_loop.h"

namespace himalaya::push {
namespace {

using imap::testing::FakeServer;
using std::chrono::milliseconds;
using testing::run_until;

const std::string password = "pw-from-PassCmd-7Qx";

class PushWatcherTest : public ::testing::Test {
 protected:
  PushWatcherTest() : server(io, nullptr) {
    server.greeting = "* OK [CAPABILITY IMAP4rev1 IDLE] fake ready\r\n";
  }

  // An mbsyncrc for the fake server; `pass` is the account's password line.
  std::string write_rc(const std::string& pass = "PassCmd \"echo '" + password +
                                                 "'; echo 'second line'\"") {
    const std::string rc = (dir.path() / "mbsyncrc").string();
    testing::spit(rc, "IMAPAccount fake\nHost 127.0.0.1\nPort " + std::to_string(server.port()) +
                          "\nUser alice\n" + pass +
                          "\nTLSType None\n\nIMAPStore fake-remote\nAccount fake\n\n"
                          "MaildirStore fake-local\nPath " +
                          (dir.path() / "Mail/").string() + "\nInbox " +
                          (dir.path() / "Mail/INBOX").string() +
                          "\n\nChannel fake\nFar :fake-remote:\nNear :fake-local:\n"
                          "Patterns *\n");
    return rc;
  }

  std::unique_ptr<PushWatcher> make(PushMode mode, const std::string& rc,
                                    milliseconds first_retry = milliseconds(50)) {
    PushWatcher::Options o;
    o.command = {"mbsync", "-c", rc, "-a"};
    o.push.mode = mode;
    o.backoff.first = first_retry;
    o.backoff.max = first_retry * 4;
    o.connect_timeout = std::chrono::seconds(5);
    o.reply_timeout = std::chrono::seconds(5);
    o.suspend_check = milliseconds(20);
    o.env.home = dir.path().string();
    PushWatcher::Hooks h;
    h.mail_changed = [this](const std::string& account, const std::string& mailbox) {
      ++changes;
      changed_in = account + " " + mailbox;
    };
    h.warn = [this](const std::string& m) { warnings.push_back(m); };
    h.log = [this](const std::string& m) { log += m + "\n"; };
    return std::make_unique<PushWatcher>(io, std::move(o), clock, std::move(h));
  }

  bool idling(const PushWatcher& w) {
    return w.status().state == PushStatus::State::idling && server.idling;
  }

  boost::asio::io_context io;
  FakeServer server;
  testing::TempDir dir{"push-watcher-"};
  std::shared_ptr<coordinator::FakeClock> fake_clock = std::make_shared<coordinator::FakeClock>();
  std::shared_ptr<const coordinator::Clock> clock = std::make_shared<coordinator::SystemClock>();
  int changes = 0;
  std::string changed_in;  // the account and mailbox of the last change
  std::vector<std::string> warnings;
  std::string log;
};

TEST_F(PushWatcherTest, IdlesOnTheMailboxAndReportsEachChange) {
  auto w = make(PushMode::on, write_rc());
  EXPECT_EQ(w->status().state, PushStatus::State::off);  // not started: not the primary
  w->start();
  ASSERT_TRUE(run_until(io, [&] { return idling(*w); })) << log;
  EXPECT_EQ(changes, 0);
  server.send("* 2 EXISTS\r\n");
  ASSERT_TRUE(run_until(io, [&] { return changes == 1; })) << log;
  EXPECT_EQ(changed_in, "fake INBOX");
  server.send("* 1 EXPUNGE\r\n");
  ASSERT_TRUE(run_until(io, [&] { return changes == 2; })) << log;
  PushStatus s = w->status();
  EXPECT_EQ(s.servers, std::vector<std::string>{"127.0.0.1:" + std::to_string(server.port())});
  EXPECT_EQ(s.mailboxes, std::vector<std::string>{"INBOX"});
  EXPECT_TRUE(s.last_event.has_value());
  EXPECT_TRUE(warnings.empty());
}

TEST_F(PushWatcherTest, ThePassCmdPasswordReachesTheServerAndNothingElse) {
  auto w = make(PushMode::on, write_rc());
  w->start();
  ASSERT_TRUE(run_until(io, [&] { return idling(*w); })) << log;
  bool sent = false;
  for (const std::string& line : server.lines) {
    sent = sent || (line.find("LOGIN") != std::string::npos &&
                    line.find("\"" + password + "\"") != std::string::npos);
  }
  EXPECT_TRUE(sent) << "the first line of PassCmd's output is the password";
  EXPECT_EQ(log.find(password), std::string::npos) << log;
  EXPECT_EQ(log.find("second line"), std::string::npos) << log;
}

TEST_F(PushWatcherTest, ReconnectsWithBackoffWhenTheServerDropsTheConnection) {
  auto w = make(PushMode::on, write_rc());
  w->start();
  ASSERT_TRUE(run_until(io, [&] { return idling(*w); })) << log;
  server.drop();
  ASSERT_TRUE(run_until(io, [&] { return w->status().state != PushStatus::State::idling; }));
  ASSERT_TRUE(run_until(io, [&] { return server.connections == 2 && idling(*w); })) << log;
  EXPECT_NE(log.find("reconnecting in"), std::string::npos) << log;
  EXPECT_TRUE(warnings.empty()) << "an unreachable server is only logged";
}

TEST_F(PushWatcherTest, ASuspendMakesItConnectAgainAtOnce) {
  clock = fake_clock;
  // A retry would wait a minute: only the suspend can explain a quick second connection.
  auto w = make(PushMode::on, write_rc(), std::chrono::minutes(1));
  w->start();
  ASSERT_TRUE(run_until(io, [&] { return idling(*w); })) << log;
  fake_clock->suspend(120);
  ASSERT_TRUE(run_until(
      io, [&] { return server.connections == 2 && idling(*w); }, std::chrono::seconds(5)))
      << log;
  EXPECT_NE(log.find("suspended"), std::string::npos) << log;
}

TEST_F(PushWatcherTest, AServerWithoutIdleTurnsItOffQuietlyInAutoMode) {
  server.greeting = "* OK [CAPABILITY IMAP4rev1] no idle here\r\n";
  server.login_capabilities = "IMAP4rev1";
  auto w = make(PushMode::automatic, write_rc());
  w->start();
  ASSERT_TRUE(run_until(io, [&] { return w->status().state == PushStatus::State::off; })) << log;
  EXPECT_NE(w->status().why.find("does not offer IDLE"), std::string::npos) << w->status().why;
  testing::run_for(io, 0.5);  // ten retry delays: none may happen
  EXPECT_EQ(server.connections, 1) << log;
  EXPECT_TRUE(warnings.empty());
}

TEST_F(PushWatcherTest, ARefusedLoginIsOneWarningWhenPushIsOnAndIsNotRetried) {
  server.refuse_login = true;
  auto w = make(PushMode::on, write_rc());
  w->start();
  ASSERT_TRUE(run_until(io, [&] { return w->status().state == PushStatus::State::off; })) << log;
  EXPECT_NE(w->status().why.find("refused the login"), std::string::npos) << w->status().why;
  w->stop("not the primary");
  w->start();  // primary again: the same refusal is not shown twice
  ASSERT_TRUE(run_until(io, [&] { return server.connections == 2; })) << log;
  ASSERT_TRUE(run_until(io, [&] { return w->status().state == PushStatus::State::off; })) << log;
  testing::run_for(io, 0.5);
  EXPECT_EQ(server.connections, 2) << log;
  ASSERT_EQ(warnings.size(), 1U);
  EXPECT_EQ(warnings[0].find(password), std::string::npos);
}

TEST_F(PushWatcherTest, AFailingPassCmdNamesTheAccountAndNotItsOutput) {
  auto w = make(PushMode::on, write_rc("PassCmd \"echo leaked-output; exit 3\""));
  w->start();
  ASSERT_TRUE(run_until(io, [&] { return w->status().state == PushStatus::State::off; })) << log;
  EXPECT_EQ(w->status().why, "PassCmd of account 'fake' exited with status 3");
  EXPECT_EQ(server.connections, 0);
  ASSERT_EQ(warnings.size(), 1U);
  EXPECT_EQ(log.find("leaked-output"), std::string::npos) << log;
}

TEST_F(PushWatcherTest, AnUnusableConfigurationIsOffAndOnlyTrueWarns) {
  const std::string missing = (dir.path() / "no-such-rc").string();
  auto quiet = make(PushMode::automatic, missing);
  quiet->start();
  EXPECT_EQ(quiet->status().state, PushStatus::State::off);
  EXPECT_NE(quiet->status().why.find("no-such-rc"), std::string::npos) << quiet->status().why;
  EXPECT_TRUE(warnings.empty());
  auto loud = make(PushMode::on, missing);
  loud->start();
  EXPECT_EQ(warnings.size(), 1U);
}

TEST_F(PushWatcherTest, StopLogsOutAndNothingCallsBackAfterwards) {
  auto w = make(PushMode::on, write_rc());
  w->start();
  ASSERT_TRUE(run_until(io, [&] { return idling(*w); })) << log;
  w->stop("not the primary");
  EXPECT_EQ(w->status().state, PushStatus::State::off);
  EXPECT_EQ(w->status().why, "not the primary");
  ASSERT_TRUE(run_until(io, [&] { return server.logged_out; })) << log;
  server.send("* 9 EXISTS\r\n");
  testing::run_for(io, 0.2);
  EXPECT_EQ(changes, 0);
  EXPECT_EQ(server.connections, 1) << "a stopped watcher does not reconnect";
}

TEST_F(PushWatcherTest, PushOffNeverConnects) {
  auto w = make(PushMode::off, write_rc());
  w->start();
  testing::run_for(io, 0.2);
  EXPECT_EQ(server.connections, 0);
  EXPECT_EQ(w->status().why, "sync.push.enabled is false");
}

}  // namespace
}  // namespace himalaya::push
