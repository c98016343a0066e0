// The desktop-session reader as a process (himalaya-coord-session) and the
// host's SessionWatch that runs it, against the stand-in logind on a private
// dbus-daemon: the reader's lines for lock and unlock, its exit when its
// stdin closes, SessionWatch following start/stop (the primary role), a
// killed reader started again, and a missing binary.
#include "host/session_process.h"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <boost/asio/io_context.hpp>
#include <csignal>
#include <functional>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "host/line_child.h"
#include "tests/support/private_bus.h"
#include "tests/support/run_loop.h"

namespace himalaya::host {
namespace {

using std::chrono::seconds;

class SessionProcessTest : public testing_logind::PrivateBusTest {
 protected:
  void TearDown() override {
    watch_.reset();
    if (child_) {
      child_->detach();
      child_->kill();
    }
    PrivateBusTest::TearDown();
  }

  bool run_until(const std::function<bool()>& done) {
    return testing::run_until(io_, done, seconds(10));
  }

  bool said(const std::string& line) const {
    return std::find(lines_.begin(), lines_.end(), line) != lines_.end();
  }

  void start_child(const std::string& address) {
    LineChild::Callbacks callbacks;
    callbacks.on_line = [this](const std::string& line) { lines_.push_back(line); };
    callbacks.on_exit = [this](int status) { exit_status_ = status; };
    std::string error;
    child_ = LineChild::start(io_, HIMALAYA_SESSION_BINARY,
                              {HIMALAYA_SESSION_BINARY, "--address", address}, "",
                              std::move(callbacks), error);
    ASSERT_TRUE(child_) << error;
  }

  void make_watch(const std::string& program = HIMALAYA_SESSION_BINARY) {
    SessionWatch::Options options;
    options.program = program;
    options.arguments = {"--address", address_};
    options.first_restart = 0.1;
    options.max_restart = 0.4;
    SessionWatch::Hooks hooks;
    hooks.away_changed = [this](bool away) { changes_.push_back(away); };
    hooks.log = [this](const std::string& line) { log_ += line + "\n"; };
    watch_ = std::make_unique<SessionWatch>(io_, options, hooks);
  }

  bool read() {
    return run_until([this] { return !watch_->facts().session.empty(); });
  }

  // The pid of the reader the log last said it started; -1 if none.
  pid_t reader_pid() const {
    std::smatch m;
    pid_t pid = -1;
    std::string rest = log_;
    while (std::regex_search(rest, m, std::regex("reader started \\(pid ([0-9]+)\\)"))) {
      pid = std::stoi(m[1]);
      rest = m.suffix();
    }
    return pid;
  }

  boost::asio::io_context io_;
  std::shared_ptr<LineChild> child_;
  std::vector<std::string> lines_;
  std::optional<int> exit_status_;
  std::unique_ptr<SessionWatch> watch_;
  std::vector<bool> changes_;
  std::string log_;
};

TEST_F(SessionProcessTest, TheReaderPrintsLockAndUnlockAndExitsWhenItsStdinCloses) {
  start_logind();
  start_child(address_);
  ASSERT_TRUE(run_until([this] { return said("source session 2 (the user's display session)"); }));
  EXPECT_FALSE(said("away 1"));

  set_hint("LockedHint", true);
  ASSERT_TRUE(run_until([this] { return said("away 1"); }));
  set_hint("LockedHint", false);
  ASSERT_TRUE(run_until([this] { return said("away 0"); }));
  EXPECT_EQ(lines_.back(), "away 0");

  child_->close_input();
  ASSERT_TRUE(run_until([this] { return exit_status_.has_value(); }));
  ASSERT_TRUE(WIFEXITED(*exit_status_));
  EXPECT_EQ(WEXITSTATUS(*exit_status_), 0);
}

TEST_F(SessionProcessTest, TheReaderSaysWhyWithoutABusAndKeepsRunning) {
  start_child("unix:path=" + (dir_.path() / "no-bus").string());
  ASSERT_TRUE(run_until([this] {
    return std::any_of(lines_.begin(), lines_.end(), [](const std::string& line) {
      return line.rfind("problem ", 0) == 0 && line.size() > 8;
    });
  }));
  EXPECT_FALSE(said("away 1"));
  EXPECT_FALSE(exit_status_.has_value());
  child_->close_input();
  ASSERT_TRUE(run_until([this] { return exit_status_.has_value(); }));
}

TEST_F(SessionProcessTest, TheWatchFollowsStartAndStopAndSaysNotAwayOnceWhenStopped) {
  start_logind();
  make_watch();
  EXPECT_EQ(watch_->facts().problem, "not the primary");
  EXPECT_FALSE(watch_->running());

  watch_->start();  // became the primary
  ASSERT_TRUE(read());
  EXPECT_EQ(watch_->facts().session, "session 2 (the user's display session)");
  EXPECT_EQ(watch_->facts().problem, "");
  set_hint("LockedHint", true);
  ASSERT_TRUE(run_until([this] { return watch_->facts().away; }));
  EXPECT_EQ(changes_, (std::vector<bool>{true}));

  watch_->stop("not the primary");  // no longer the primary
  EXPECT_EQ(changes_, (std::vector<bool>{true, false}));
  EXPECT_FALSE(watch_->running());
  EXPECT_EQ(watch_->facts().session, "");
  EXPECT_EQ(watch_->facts().problem, "not the primary");
  watch_->stop("not the primary");
  EXPECT_EQ(changes_.size(), 2u) << "false is said once";

  watch_->start();  // primary again: still locked
  ASSERT_TRUE(run_until([this] { return watch_->facts().away; }));
  EXPECT_EQ(changes_, (std::vector<bool>{true, false, true}));
}

TEST_F(SessionProcessTest, AKilledReaderIsNotAwayAndIsStartedAgain) {
  start_logind();
  set_hint("LockedHint", true);
  make_watch();
  watch_->start();
  ASSERT_TRUE(run_until([this] { return watch_->facts().away; }));
  const pid_t first = reader_pid();
  ASSERT_GT(first, 0);

  ASSERT_EQ(::kill(first, SIGKILL), 0);
  ASSERT_TRUE(run_until([this] { return changes_.size() == 2; }));
  EXPECT_FALSE(changes_.back());
  EXPECT_NE(log_.find("was killed by signal 9"), std::string::npos) << log_;

  ASSERT_TRUE(run_until([this] { return watch_->facts().away; }));
  EXPECT_NE(reader_pid(), first);
  EXPECT_EQ(changes_, (std::vector<bool>{true, false, true}));
}

TEST_F(SessionProcessTest, AMissingBinaryIsAProblemNotACrash) {
  make_watch((dir_.path() / "no-such-reader").string());
  watch_->start();
  EXPECT_FALSE(watch_->running());
  EXPECT_NE(watch_->facts().problem.find("no-such-reader"), std::string::npos)
      << watch_->facts().problem;
  EXPECT_FALSE(watch_->facts().away);
  EXPECT_TRUE(changes_.empty());
  watch_->stop("not the primary");
  EXPECT_EQ(watch_->facts().problem, "not the primary");
}

}  // namespace
}  // namespace himalaya::host
