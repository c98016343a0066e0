// The sync runner with real processes (/bin/sh, sleep, seq): outcomes,
// output, timeouts, cancelling, and one run at a time. Every wait is a
// condition with a deadline (sync_runner_fixture.h).
#include "host/sync_runner.h"

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

TEST_F(SyncRunnerTest, SucceedsWithTrue) {
  SyncRun run = run_to_end({"true"});
  EXPECT_EQ(run.outcome, SyncOutcome::ok);
  EXPECT_EQ(run.exit_status, 0);
  EXPECT_EQ(run.signal, 0);
  EXPECT_EQ(run.message, "");
  EXPECT_EQ(run.output_tail, "");
  EXPECT_GE(run.seconds, 0);
  EXPECT_LT(run.seconds, 5);
  EXPECT_STREQ(to_string(run.outcome), "ok");
}

TEST_F(SyncRunnerTest, CapturesStdoutAndStderrInOrder) {
  SyncRun run = run_to_end({"sh", "-c", "echo out; echo err >&2"});
  EXPECT_EQ(run.outcome, SyncOutcome::ok);
  EXPECT_EQ(run.output_tail, "out\nerr\n");
}

TEST_F(SyncRunnerTest, KeepsOnlyTheTailOfLongOutput) {
  SyncRun run = run_to_end({"seq", "1", "100000"});
  ASSERT_EQ(run.outcome, SyncOutcome::ok);
  std::string expected;
  for (int i = 99981; i <= 100000; ++i) {
    expected += std::to_string(i) + "\n";
  }
  EXPECT_EQ(run.output_tail, expected);
}

TEST_F(SyncRunnerTest, TailIsValidUtf8AndStartsAtALine) {
  // 5000 bytes on one line, then two lines, one of them with a stray byte.
  SyncRun run = run_to_end(
      {"sh", "-c", "head -c 5000 /dev/zero | tr '\\0' x; echo; printf 'bad \\377 byte\\nlast\\n'"});
  ASSERT_EQ(run.outcome, SyncOutcome::ok);
  EXPECT_EQ(run.output_tail, "bad \xEF\xBF\xBD byte\nlast\n");
}

TEST_F(SyncRunnerTest, CallbackIsPostedNeverCalledFromStart) {
  SyncRunner runner(io_, options({"true"}));
  Completion completion;
  std::string error;
  ASSERT_TRUE(runner.start(completion.callback(), error)) << error;
  EXPECT_EQ(completion.calls, 0);
  EXPECT_TRUE(runner.running());
  EXPECT_GT(runner.pid(), 0);
  ASSERT_TRUE(run_until(io_, [&] { return completion.done(); }));
  EXPECT_EQ(runner.pid(), -1);
  // Nothing more arrives later.
  io_.restart();
  io_.poll();
  EXPECT_EQ(completion.calls, 1);
}

TEST_F(SyncRunnerTest, NonZeroExitFailsWithTheLastLine) {
  SyncRun run = run_to_end({"sh", "-c", "echo fetching; echo 'something broke' >&2; exit 3"});
  EXPECT_EQ(run.outcome, SyncOutcome::failed);
  EXPECT_EQ(run.exit_status, 3);
  EXPECT_EQ(run.message, "sync command exited with status 3: something broke");
  EXPECT_EQ(run.output_tail, "fetching\nsomething broke\n");
}

TEST_F(SyncRunnerTest, DeathBySignalFails) {
  SyncRun run = run_to_end({"sh", "-c", "kill -KILL $$"});
  EXPECT_EQ(run.outcome, SyncOutcome::failed);
  EXPECT_EQ(run.exit_status, -1);
  EXPECT_EQ(run.signal, SIGKILL);
  EXPECT_EQ(run.message, "sync command was killed by signal 9 (SIGKILL)");
}

TEST_F(SyncRunnerTest, MissingCommandFailsAsNotFound) {
  for (const std::string& name : {std::string("himalaya-coord-no-such-command"),
                                  (dir_ / "no" / "such" / "mbsync").string()}) {
    SyncRunner runner(io_, options({name, "-a"}));
    Completion completion;
    std::string error;
    ASSERT_TRUE(runner.start(completion.callback(), error)) << error;
    EXPECT_EQ(completion.calls, 0);  // reported through the callback, later
    EXPECT_EQ(runner.pid(), -1);
    ASSERT_TRUE(run_until(io_, [&] { return completion.done(); }));
    EXPECT_EQ(completion.result->outcome, SyncOutcome::failed);
    EXPECT_EQ(completion.result->message, "sync command not found: " + name);
    EXPECT_EQ(completion.result->exit_status, -1);
    EXPECT_TRUE(can_flock(lock_file_)) << "the lock is released";
  }
  EXPECT_EQ(zombie_children(), 0);
}

TEST_F(SyncRunnerTest, NonExecutableCommandFails) {
  fs::path script = dir_ / "not-executable";
  std::ofstream(script) << "#!/bin/sh\nexit 0\n";
  fs::permissions(script, fs::perms::owner_read | fs::perms::owner_write);
  SyncRun run = run_to_end({script.string()});
  EXPECT_EQ(run.outcome, SyncOutcome::failed);
  EXPECT_EQ(run.message, "sync command is not executable: " + script.string());
  EXPECT_EQ(zombie_children(), 0);
}

TEST_F(SyncRunnerTest, TimeoutKillsAGroupThatIgnoresSigterm) {
  // The shell and both sleeps ignore SIGTERM (an ignored signal is inherited),
  // so only the SIGKILL after the grace period ends them.
  SyncRunner runner(
      io_, options({"sh", "-c", "trap '' TERM; sleep 60 & sleep 60 & wait"}, /*timeout=*/1.0,
                   /*kill_grace=*/0.2));
  Completion completion;
  std::string error;
  ASSERT_TRUE(runner.start(completion.callback(), error)) << error;
  const int pgid = runner.pid();
  ASSERT_GT(pgid, 0);
  std::set<int> members = wait_for_members(pgid, 3);
  EXPECT_EQ(members.size(), 3U) << "the shell and its two sleeps";
  ASSERT_TRUE(run_until(io_, [&] { return completion.done(); }));
  EXPECT_EQ(completion.calls, 1);
  const SyncRun& run = *completion.result;
  EXPECT_EQ(run.outcome, SyncOutcome::timed_out);
  EXPECT_EQ(run.message, "sync timed out after 1 s and was stopped");
  EXPECT_EQ(run.signal, SIGKILL);
  EXPECT_GE(run.seconds, 1.0 + 0.2 - 0.05);
  EXPECT_TRUE(wait_until_group_ended(pgid, members));
  EXPECT_FALSE(runner.running());
  EXPECT_TRUE(can_flock(lock_file_));
}

TEST_F(SyncRunnerTest, TimeoutDoesNotWaitForTheGraceWhenSigtermWorks) {
  SyncRunner runner(io_, options({"sleep", "60"}, /*timeout=*/0.2, /*kill_grace=*/30));
  Completion completion;
  std::string error;
  ASSERT_TRUE(runner.start(completion.callback(), error)) << error;
  ASSERT_TRUE(run_until(io_, [&] { return completion.done(); }));
  EXPECT_EQ(completion.result->outcome, SyncOutcome::timed_out);
  EXPECT_EQ(completion.result->signal, SIGTERM);
  EXPECT_LT(completion.result->seconds, 10);
}

TEST_F(SyncRunnerTest, CancelTerminatesTheGroup) {
  SyncRunner runner(io_, options({"sh", "-c", "sleep 60 & sleep 60 & wait"}));
  Completion completion;
  std::string error;
  ASSERT_TRUE(runner.start(completion.callback(), error)) << error;
  const int pgid = runner.pid();
  std::set<int> members = wait_for_members(pgid, 3);
  ASSERT_EQ(members.size(), 3U);
  runner.cancel();
  runner.cancel();                 // a second call changes nothing
  EXPECT_EQ(completion.calls, 0);  // only once the command has really exited
  ASSERT_TRUE(run_until(io_, [&] { return completion.done(); }));
  EXPECT_EQ(completion.calls, 1);
  EXPECT_EQ(completion.result->outcome, SyncOutcome::cancelled);
  EXPECT_EQ(completion.result->message, "sync cancelled");
  EXPECT_TRUE(wait_until_group_ended(pgid, members));
  runner.cancel();  // nothing runs: a no-op
  EXPECT_FALSE(runner.running());
}

TEST_F(SyncRunnerTest, RefusesASecondRunWhileOneRuns) {
  SyncRunner runner(io_, options({"sleep", "60"}));
  Completion first;
  Completion second;
  std::string error;
  ASSERT_TRUE(runner.start(first.callback(), error)) << error;
  EXPECT_FALSE(runner.start(second.callback(), error));
  EXPECT_EQ(error, "a sync is already running");
  runner.cancel();
  ASSERT_TRUE(run_until(io_, [&] { return first.done(); }));
  io_.poll();
  EXPECT_EQ(second.calls, 0);
}

TEST_F(SyncRunnerTest, CallbackMayStartTheNextRun) {
  SyncRunner runner(io_, options({"true"}));
  Completion second;
  bool running_in_callback = true;
  bool restarted = false;
  std::string error;
  ASSERT_TRUE(runner.start(
      [&](const SyncRun&) {
        running_in_callback = runner.running();
        restarted = runner.start(second.callback(), error);
      },
      error));
  ASSERT_TRUE(run_until(io_, [&] { return second.done(); })) << error;
  EXPECT_FALSE(running_in_callback);
  EXPECT_TRUE(restarted);
  EXPECT_EQ(second.result->outcome, SyncOutcome::ok);
}

}  // namespace
}  // namespace himalaya::host
