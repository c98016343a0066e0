// host/logind_session.h against a stand-in logind (fake_logind.cpp) on a
// private dbus-daemon that each test starts: the hints read at start, their
// changes followed, logind or the bus dying, and no bus at all. Skipped only
// when dbus-daemon is not installed; one that fails to start is a failure.
#include "host/logind_session.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "host/logind_names.h"
#include "tests/support/private_bus.h"
#include "tests/support/run_loop.h"

namespace himalaya::host {
namespace {

using std::chrono::seconds;
using testing::ChildProcess;

class LogindSessionTest : public testing_logind::PrivateBusTest {
 protected:
  void TearDown() override {
    reader_.reset();
    PrivateBusTest::TearDown();
  }

  void start_reader(double reread = 3600, std::string address = "") {
    LogindSession::Options options;
    options.address = address.empty() ? address_ : address;
    options.reread = reread;
    LogindSession::Hooks hooks;
    hooks.changed = [this](bool away) { changes_.push_back(away); };
    hooks.log = [this](const std::string& line) { logs_.push_back(line); };
    reader_ = std::make_unique<LogindSession>(io_, options, hooks);
    reader_->start();
  }

  bool run_until(const std::function<bool()>& done) {
    return testing::run_until(io_, done, seconds(10));
  }
  bool read() {
    return run_until([this] { return !reader_->source().empty(); });
  }

  boost::asio::io_context io_;
  std::unique_ptr<LogindSession> reader_;
  std::vector<bool> changes_;
  std::vector<std::string> logs_;
};

TEST_F(LogindSessionTest, FollowsLockedHintOfTheUsersDisplaySession) {
  start_logind();
  start_reader();
  ASSERT_TRUE(read());
  EXPECT_FALSE(reader_->away());
  EXPECT_EQ(reader_->source(), "session 2 (the user's display session)");
  EXPECT_EQ(reader_->problem(), "");
  EXPECT_TRUE(changes_.empty());

  set_hint("LockedHint", true);
  ASSERT_TRUE(run_until([this] { return changes_.size() == 1; }));
  EXPECT_TRUE(changes_.back());
  EXPECT_TRUE(reader_->away());

  set_hint("LockedHint", false);
  ASSERT_TRUE(run_until([this] { return changes_.size() == 2; }));
  EXPECT_FALSE(changes_.back());
  EXPECT_FALSE(reader_->away());
  EXPECT_TRUE(logs_.empty());
}

TEST_F(LogindSessionTest, FollowsIdleHintAndReportsOnlyChangesOfAway) {
  start_logind();
  start_reader();
  ASSERT_TRUE(read());

  set_hint("IdleHint", true);
  ASSERT_TRUE(run_until([this] { return changes_.size() == 1; }));
  EXPECT_TRUE(changes_.back());

  // Locked as well, then no longer idle: still away, so no report.
  set_hint("LockedHint", true);
  set_hint("IdleHint", false);
  set_hint("LockedHint", false);
  ASSERT_TRUE(run_until([this] { return !reader_->away(); }));
  ASSERT_TRUE(run_until([this] { return changes_.size() >= 2; }));
  EXPECT_EQ(changes_, (std::vector<bool>{true, false}));
}

TEST_F(LogindSessionTest, PrefersTheSessionThisProcessRunsIn) {
  start_logind({"--pid-session", "--no-display"});
  start_reader();
  ASSERT_TRUE(read());
  EXPECT_EQ(reader_->source(), "session 2 (this process's)");
  set_hint("LockedHint", true);
  ASSERT_TRUE(run_until([this] { return reader_->away(); }));
}

TEST_F(LogindSessionTest, AtStartAwayIsTheHintsValue) {
  start_logind();
  set_hint("LockedHint", true);
  start_reader();
  ASSERT_TRUE(run_until([this] { return changes_.size() == 1; }));
  EXPECT_TRUE(changes_.back());
  EXPECT_TRUE(reader_->away());
}

TEST_F(LogindSessionTest, ReadsAgainAHintThatChangedWithoutASignal) {
  start_logind();
  start_reader(/*reread=*/0.1);
  ASSERT_TRUE(read());
  set_hint("IdleHint", true, /*signal=*/false);
  ASSERT_TRUE(run_until([this] { return reader_->away(); }));
}

TEST_F(LogindSessionTest, NoSessionIsSaidOnceAndNeverAway) {
  start_logind({"--no-display"});
  start_reader();
  ASSERT_TRUE(run_until([this] { return !reader_->problem().empty(); }));
  EXPECT_NE(reader_->problem().find("no display session"), std::string::npos) << reader_->problem();
  EXPECT_FALSE(reader_->away());
  EXPECT_EQ(reader_->source(), "");
  ASSERT_EQ(logs_.size(), 1u);
  EXPECT_NE(logs_[0].find("not away"), std::string::npos) << logs_[0];
}

TEST_F(LogindSessionTest, LogindDyingIsNotAwayAndItsReturnIsFollowed) {
  start_logind();
  start_reader();
  ASSERT_TRUE(read());
  set_hint("LockedHint", true);
  ASSERT_TRUE(run_until([this] { return reader_->away(); }));

  logind_->signal(SIGKILL);
  logind_->reap();
  ASSERT_TRUE(run_until([this] { return !reader_->problem().empty(); }));
  EXPECT_EQ(reader_->problem(), "logind left the bus");
  EXPECT_FALSE(reader_->away());
  ASSERT_TRUE(run_until([this] { return changes_.size() == 2; }));
  EXPECT_EQ(changes_, (std::vector<bool>{true, false}));
  ASSERT_EQ(logs_.size(), 1u);

  // A new logind (hints false) is found again, and followed.
  sd_bus_flush_close_unref(control_);
  control_ = nullptr;
  start_logind();
  ASSERT_TRUE(run_until([this] { return reader_->problem().empty(); }));
  ASSERT_TRUE(read());
  set_hint("IdleHint", true);
  ASSERT_TRUE(run_until([this] { return reader_->away(); }));
}

TEST_F(LogindSessionTest, NoLogindOnTheBusUntilItComes) {
  start_reader();
  ASSERT_TRUE(run_until([this] { return !reader_->problem().empty(); }));
  EXPECT_NE(reader_->problem().find("logind is not on the bus"), std::string::npos)
      << reader_->problem();
  EXPECT_FALSE(reader_->away());
  start_logind();
  ASSERT_TRUE(read());
  EXPECT_EQ(reader_->problem(), "");
}

TEST_F(LogindSessionTest, TheBusClosingIsNotAway) {
  start_logind();
  start_reader();
  ASSERT_TRUE(read());
  set_hint("IdleHint", true);
  ASSERT_TRUE(run_until([this] { return reader_->away(); }));
  daemon_->signal(SIGKILL);
  daemon_->reap();
  ASSERT_TRUE(run_until([this] { return changes_.size() == 2; }));
  EXPECT_EQ(changes_, (std::vector<bool>{true, false}));
  EXPECT_FALSE(reader_->away());
  EXPECT_NE(reader_->problem().find("the system bus closed"), std::string::npos)
      << reader_->problem();
  ASSERT_EQ(logs_.size(), 1u) << logs_.back();
  EXPECT_NE(logs_[0].find("not away"), std::string::npos) << logs_[0];
}

// No bus, as the host meets it in a container: the system bus (sd-bus
// honours DBUS_SYSTEM_BUS_ADDRESS) or a given address where there is none.
// These need no dbus-daemon.
void expect_no_bus(const std::string& given, const std::string& system) {
  testing::TempDir dir("logind-test-");
  boost::asio::io_context io;
  std::vector<std::string> logs;
  LogindSession::Options options;
  if (!given.empty())
    options.address = given + (dir.path() / "no-bus").string();
  LogindSession::Hooks hooks;
  hooks.changed = [](bool) { ADD_FAILURE() << "away changed without a bus"; };
  hooks.log = [&logs](const std::string& line) { logs.push_back(line); };
  LogindSession reader(io, options, hooks);
  if (!system.empty()) {
    const std::string missing = system + (dir.path() / "no-system-bus").string();
    ASSERT_EQ(::setenv("DBUS_SYSTEM_BUS_ADDRESS", missing.c_str(), 1), 0);
  }
  reader.start();
  ::unsetenv("DBUS_SYSTEM_BUS_ADDRESS");
  ASSERT_TRUE(testing::run_until(
      io, [&reader] { return !reader.problem().empty(); }, seconds(10)));
  EXPECT_NE(reader.problem().find("no system bus"), std::string::npos) << reader.problem();
  EXPECT_FALSE(reader.away());
  EXPECT_EQ(reader.source(), "");
  ASSERT_EQ(logs.size(), 1u);
  EXPECT_NE(logs[0].find("not away"), std::string::npos) << logs[0];
  testing::run_for(io, 0.05);  // nothing more comes
  EXPECT_EQ(logs.size(), 1u);
}

TEST(LogindSessionNoBusTest, NoBusAtTheGivenAddress) {
  expect_no_bus("unix:path=", "");
}

TEST(LogindSessionNoBusTest, NoSystemBus) {
  expect_no_bus("", "unix:path=");
}

// The session's name as shown: logind's escaped object path, read.
TEST(LogindNames, SessionNamesAreUnescaped) {
  EXPECT_EQ(logind_session_name("/org/freedesktop/login1/session/_32"), "2");
  EXPECT_EQ(logind_session_name("/org/freedesktop/login1/session/c1"), "c1");
  EXPECT_EQ(logind_session_name("/org/freedesktop/login1/session/_31_30"), "10");
  EXPECT_EQ(logind_session_name("/org/freedesktop/login1/session/_zz"), "_zz");
  EXPECT_EQ(logind_session_name("/org/freedesktop/login1/session/_3"), "_3");
}

}  // namespace
}  // namespace himalaya::host
