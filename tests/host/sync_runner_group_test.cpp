// The sync runner's process group: what the command leaves behind is killed,
// the destructor ends the run, and no command outlives a killed host.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "host/sync_runner.h"
#include "tests/host/sync_runner_fixture.h"
#include "tests/support/processes.h"

namespace himalaya::host {
namespace {

using himalaya::testing::all_pids;
using himalaya::testing::open_fds;
using testing::alive;
using testing::can_flock;
using testing::Completion;
using testing::live_group_members;
using testing::patience;
using testing::run_until;
using testing::SyncRunnerTest;
using testing::zombie_children;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

TEST_F(SyncRunnerTest, KillsWhatTheCommandLeftInItsGroup) {
  SyncRunner runner(io_, options({"sh", "-c", "sleep 60 & echo started"}));
  Completion completion;
  std::string error;
  ASSERT_TRUE(runner.start(completion.callback(), error)) << error;
  const int pgid = runner.pid();
  ASSERT_TRUE(run_until(io_, [&] { return completion.done(); }));
  EXPECT_EQ(completion.result->outcome, SyncOutcome::ok);
  EXPECT_EQ(completion.result->output_tail, "started\n");
  EXPECT_TRUE(wait_until_group_ended(pgid));
}

TEST_F(SyncRunnerTest, AProcessThatLeftTheGroupDoesNotHoldTheRunOpen) {
  // The inner shell leaves the group (setsid) while keeping the output pipe,
  // and writes its pid to a file once it has; the outer shell waits for that.
  fs::path pid_file = dir_ / "escaped.pid";
  std::string script = "setsid sh -c 'echo $$ > " + pid_file.string() + ".tmp && mv " +
                       pid_file.string() + ".tmp " + pid_file.string() +
                       " && exec sleep 60' & while [ ! -e " + pid_file.string() +
                       " ]; do sleep 0.01; done; echo done";
  SyncRunner runner(io_, options({"sh", "-c", script}, /*timeout=*/30, /*kill_grace=*/0.3));
  Completion completion;
  std::string error;
  ASSERT_TRUE(runner.start(completion.callback(), error)) << error;
  ASSERT_TRUE(run_until(io_, [&] { return completion.done(); }));
  int escaped = 0;
  std::ifstream(pid_file) >> escaped;
  ASSERT_GT(escaped, 0);
  EXPECT_TRUE(alive(escaped));
  ::kill(escaped, SIGKILL);
  EXPECT_EQ(completion.result->outcome, SyncOutcome::ok);
  EXPECT_EQ(completion.result->output_tail, "done\n");
  EXPECT_GE(completion.result->seconds, 0.25);
  EXPECT_LT(completion.result->seconds, 10);
}

TEST_F(SyncRunnerTest, DestructorKillsTheGroupWithoutCallingBack) {
  auto runner =
      std::make_unique<SyncRunner>(io_, options({"sh", "-c", "sleep 60 & sleep 60 & wait"}));
  Completion completion;
  std::string error;
  ASSERT_TRUE(runner->start(completion.callback(), error)) << error;
  const int pgid = runner->pid();
  std::set<int> members = wait_for_members(pgid, 3);
  ASSERT_EQ(members.size(), 3U);
  runner.reset();
  EXPECT_FALSE(alive(pgid)) << "the command is reaped by the destructor";
  EXPECT_TRUE(wait_until_group_ended(pgid, members));
  EXPECT_TRUE(can_flock(lock_file_));
  io_.restart();
  io_.poll();
  EXPECT_EQ(completion.calls, 0);
}

TEST_F(SyncRunnerTest, CommandDiesWithAKilledHost) {
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  pid_t host = ::fork();
  ASSERT_GE(host, 0);
  if (host == 0) {
    // A stand-in host: starts a run, reports the command's pid, and serves
    // its io_context until it is SIGKILLed.
    boost::asio::io_context io;
    SyncRunner runner(io, options({"sleep", "60"}));
    std::string error;
    if (!runner.start([](const SyncRun&) {}, error)) {
      ::_exit(1);
    }
    int pid = runner.pid();
    if (::write(fds[1], &pid, sizeof pid) != sizeof pid) {
      ::_exit(1);
    }
    io.run();
    ::_exit(0);
  }
  ::close(fds[1]);
  int command = 0;
  ASSERT_EQ(::read(fds[0], &command, sizeof command), static_cast<ssize_t>(sizeof command));
  ::close(fds[0]);
  ASSERT_TRUE(alive(command));
  ::kill(host, SIGKILL);
  ASSERT_EQ(::waitpid(host, nullptr, 0), host);
  EXPECT_TRUE(run_until(io_, [&] { return !alive(command); }));
  // The lock died with its holder.
  EXPECT_TRUE(can_flock(lock_file_));
}

// The launch has windows where a dying host could leave its command behind:
// between fork() and arming the parent-death signal, between that and
// execve(), and between execve() and start() returning. A stand-in host is
// SIGKILLed at spread-out moments around its start() (from before the fork to
// well after it), 100 times; no command of any of them may be left running.
TEST_F(SyncRunnerTest, NoCommandOutlivesAHostKilledAtAnyMomentOfItsLaunch) {
  // A unique argument marks this test's commands: "sleep 30 0.000<pid>" sleeps
  // 30 s and a bit (GNU sleep adds its arguments).
  const std::string marker = "0.000" + std::to_string(::getpid());
  auto commands_left = [&] {
    int count = 0;
    for (int pid : all_pids()) {
      const std::string cmdline = himalaya::testing::proc_cmdline(pid);
      if (cmdline.find(std::string("sleep") + '\0' + "30" + '\0' + marker) == 0 && alive(pid)) {
        ++count;
      }
    }
    return count;
  };
  int launched = 0;
  for (int round = 0; round < 100; ++round) {
    int ready[2];
    ASSERT_EQ(::pipe2(ready, O_CLOEXEC), 0);
    pid_t host = ::fork();
    ASSERT_GE(host, 0);
    if (host == 0) {
      boost::asio::io_context io;
      SyncRunner runner(io, options({"sleep", "30", marker}));
      char go = 0;
      if (::write(ready[1], &go, 1) != 1) {
        ::_exit(1);
      }
      std::string error;
      runner.start([](const SyncRun&) {}, error);
      io.run();
      ::_exit(0);
    }
    ::close(ready[1]);
    char go = 0;
    ASSERT_EQ(::read(ready[0], &go, 1), 1);
    ::close(ready[0]);
    // From 0 to ~3 ms after the stand-in is about to call start(): a launch
    // takes about a millisecond here, so the kills spread over all of it.
    const auto delay = std::chrono::microseconds((round * 37) % 3000);
    const auto until = std::chrono::steady_clock::now() + delay;
    while (std::chrono::steady_clock::now() < until) {
    }
    ASSERT_EQ(::kill(host, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(::waitpid(host, &status, 0), host);
    launched += commands_left() > 0 ? 1 : 0;
  }
  EXPECT_TRUE(run_until(io_, [&] { return commands_left() == 0; }))
      << commands_left() << " sync commands outlived their killed hosts";
  // A child killed between fork() and execve() is still the test binary, not
  // a "sleep": it holds the lock until its death signal has been handled,
  // which on a loaded machine may be after the last sleep has gone.
  EXPECT_TRUE(run_until(io_, [&] { return can_flock(lock_file_); }))
      << "a killed host's command still holds the lock";
  std::printf("commands seen running right after their host was killed: %d of 100\n", launched);
}

}  // namespace
}  // namespace himalaya::host
