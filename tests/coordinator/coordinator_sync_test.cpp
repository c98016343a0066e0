// The runtime's syncs in one process (testing::RuntimeTest, runtime_fixture.h:
// real files, virtual time): when a sync is due, who may start one, the
// cooldown, the schedule across a takeover, and a frozen primary's sync.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>

#include "coordinator/coordinator.h"
#include "recorder.h"
#include "runtime_fixture.h"
#include "test_support.h"

namespace himalaya::coordinator {
namespace {

namespace fs = std::filesystem;
using testing::any_contains;
using testing::Recorder;

// One fixture type across this suite's files (gtest requires it).
using CoordinatorTest = testing::RuntimeTest;

TEST_F(CoordinatorTest, StartupSyncIsDueAfterTheDelayAndRecorded) {
  Recorder ra;
  auto a = make("nvim_1_1", ra, config(), 1);
  ra.on_due = [&] {
    auto g = a->begin_sync(SyncTrigger::automatic);
    EXPECT_TRUE(g.granted) << g.reason;
  };
  a->start();
  ASSERT_TRUE(run_until([&] { return ra.sync_due == 1; }, 5));
  State s = file_state();
  ASSERT_TRUE(s.running_sync);
  EXPECT_EQ(s.running_sync->instance_id, "nvim_1_1");
  EXPECT_EQ(s.last_sync_instance, "nvim_1_1");
  EXPECT_GT(s.last_sync_time, 0);
  a->end_sync(SyncOutcome::failed, "offline");
  s = file_state();
  EXPECT_FALSE(s.running_sync);
  ASSERT_TRUE(s.last_result);
  EXPECT_EQ(s.last_result->outcome, SyncOutcome::failed);
  EXPECT_EQ(s.last_result->message, "offline");
  // Cooldown: nothing more for a while.
  run_for(0.3);
  EXPECT_EQ(ra.sync_due, 1);
  EXPECT_GT(a->status().cooldown_remaining, 29);
}

TEST_F(CoordinatorTest, ManualSyncIgnoresRoleAndCooldownButNotARunningSync) {
  Recorder ra, rb;
  auto a = make("nvim_1_1", ra, config(), 1);
  auto b = make("nvim_2_2", rb, config(), 2);
  a->start();
  b->start();
  EXPECT_FALSE(b->begin_sync(SyncTrigger::automatic).granted);  // secondary
  auto g = b->begin_sync(SyncTrigger::manual);
  ASSERT_TRUE(g.granted) << g.reason;
  auto denied = a->begin_sync(SyncTrigger::manual);
  EXPECT_FALSE(denied.granted);
  EXPECT_NE(denied.reason.find("already running"), std::string::npos);
  EXPECT_FALSE(a->begin_sync(SyncTrigger::automatic).granted);
  b->end_sync(SyncOutcome::ok, "");
  run_for(0.1);  // past the start-up delay
  auto cooled = a->begin_sync(SyncTrigger::automatic);
  EXPECT_FALSE(cooled.granted);
  EXPECT_NE(cooled.reason.find("cooldown"), std::string::npos);
  EXPECT_TRUE(a->begin_sync(SyncTrigger::manual).granted);  // cooldown does not apply
  a->end_sync(SyncOutcome::ok, "");
}

// Every sync decision reaches Events::debug, which the host logs (and shows
// in debug mode): started, skipped as secondary, skipped for cooldown with the
// seconds left, and skipped because a sync runs elsewhere.
TEST_F(CoordinatorTest, EverySyncDecisionIsReported) {
  Config c = config();
  c.timings.interval = 0.6;
  c.timings.sync_cooldown = 0.4;
  Recorder ra, rb;
  auto a = make("nvim_1_1", ra, c, 1);
  auto b = make("nvim_2_2", rb, c, 2);
  int syncs = 0;
  ra.on_due = [&] {
    if (a->begin_sync(SyncTrigger::automatic).granted) {
      ++syncs;
      a->end_sync(SyncOutcome::ok, "");
    }
  };
  a->start();
  b->start();
  ASSERT_EQ(a->role(), Role::primary);
  ASSERT_EQ(b->role(), Role::secondary);
  ASSERT_TRUE(run_until([&] { return syncs == 2; }, 10));
  EXPECT_TRUE(any_contains(ra.debugs, "sync started: ")) << ::testing::PrintToString(ra.debugs);
  // The secondary notes its decision when the fleet's sync comes due.
  ASSERT_TRUE(run_until(
      [&] { return any_contains(rb.debugs, "skipped as secondary: nvim_1_1 is primary"); }, 5))
      << ::testing::PrintToString(rb.debugs);
  EXPECT_EQ(rb.sync_due, 0);

  // Right after a sync the cooldown refuses an automatic one, saying how long is left.
  auto manual = b->begin_sync(SyncTrigger::manual);
  ASSERT_TRUE(manual.granted) << manual.reason;
  auto elsewhere = a->begin_sync(SyncTrigger::automatic);
  EXPECT_FALSE(elsewhere.granted);
  EXPECT_TRUE(
      any_contains(ra.debugs, "sync not started: a sync is already running (started by nvim_2_2)"))
      << ::testing::PrintToString(ra.debugs);
  b->end_sync(SyncOutcome::ok, "");
  auto cooled = a->begin_sync(SyncTrigger::automatic);
  EXPECT_FALSE(cooled.granted);
  EXPECT_TRUE(any_contains(ra.debugs, "sync not started: skipped for cooldown ("))
      << ::testing::PrintToString(ra.debugs);
  EXPECT_TRUE(any_contains(ra.debugs, " left)")) << ::testing::PrintToString(ra.debugs);
}

TEST_F(CoordinatorTest, TakeoverKeepsTheScheduleAndAddsNoSync) {
  Config c = config();
  c.timings.interval = 1.0;
  c.timings.sync_cooldown = 0.5;
  Recorder ra, rb;
  auto a = make("nvim_1_1", ra, c, 1);
  auto b = make("nvim_2_2", rb, c, 2);
  ra.on_due = [&] {
    if (a->begin_sync(SyncTrigger::automatic).granted) {
      a->end_sync(SyncOutcome::ok, "");
    }
  };
  rb.on_due = [&] {
    if (b->begin_sync(SyncTrigger::automatic).granted) {
      b->end_sync(SyncOutcome::ok, "");
    }
  };
  a->start();
  b->start();
  ASSERT_TRUE(run_until([&] { return ra.sync_due == 1; }, 5));
  const double last = file_state().last_sync_time;
  run_for(0.2);
  a->stop();
  ASSERT_TRUE(run_until([&] { return b->role() == Role::primary; }, 5));
  EXPECT_EQ(rb.sync_due, 0);  // no sync on takeover
  ASSERT_TRUE(run_until([&] { return rb.sync_due == 1; }, 5));
  State s = file_state();
  EXPECT_EQ(s.last_sync_instance, "nvim_2_2");
  EXPECT_GE(s.last_sync_time - last, 0.95);  // at last + interval, not before
  EXPECT_LT(s.last_sync_time - last, 1.5);
}

TEST_F(CoordinatorTest, DisabledCoordinationSyncsOnItsOwnTimerWithoutWarning) {
  Config c = config();
  c.enabled = false;
  c.timings.interval = 0.1;
  Recorder ra;
  auto a = make("nvim_1_1", ra, c, 1);
  ra.on_due = [&] {
    ASSERT_TRUE(a->begin_sync(SyncTrigger::automatic).granted);
    a->end_sync(SyncOutcome::ok, "");
  };
  a->start();
  EXPECT_EQ(a->role(), Role::uncoordinated);
  ASSERT_TRUE(run_until([&] { return ra.sync_due >= 3; }, 5));
  EXPECT_TRUE(ra.warnings.empty());
  EXPECT_FALSE(fs::exists(c.state_file));
}

// The primary is frozen (freeze(): its timers and wake-ups wait, as under SIGSTOP)
// after it spawned its sync command and before it could record the end. Its
// sync keeps blocking while that process runs; once the process is gone, the
// instance that took over sees the sync as over, records that its outcome is
// unknown, and syncs on the schedule instead of waiting for sync_timeout.
TEST_F(CoordinatorTest, SyncOfAFrozenPrimaryIsOverOnceItsSyncProcessExited) {
  Config c = config();
  c.timings.interval = 1;
  c.timings.sync_cooldown = 0.5;
  c.timings.sync_timeout = 30;
  Recorder ra, rb;
  auto a = make("nvim_1_1", ra, c, 1);
  a->start();
  ASSERT_EQ(a->role(), Role::primary);
  ASSERT_TRUE(a->begin_sync(SyncTrigger::manual).granted);
  const pid_t sync_process = ::fork();
  ASSERT_GE(sync_process, 0);
  if (sync_process == 0) {
    ::pause();
    ::_exit(0);
  }
  a->sync_process_started(sync_process);
  State s = file_state();
  ASSERT_TRUE(s.running_sync);
  EXPECT_EQ(s.running_sync->sync_pid, sync_process);
  EXPECT_GT(s.running_sync->sync_start_ticks, 0U);
  EXPECT_EQ(s.running_sync->boot_id, read_host_facts().boot_id);

  // From here on `a` is frozen: only b runs.
  freeze("nvim_1_1");
  auto b = make("nvim_2_2", rb, c, 2);
  int granted = 0;
  rb.on_due = [&] { granted += b->begin_sync(SyncTrigger::automatic).granted ? 1 : 0; };
  b->start();
  ASSERT_TRUE(run_until([&] { return b->role() == Role::primary; }, 5));
  // Due (interval 1 s) but the sync process still runs: no sync.
  run_for(1.2);
  EXPECT_EQ(granted, 0);
  ASSERT_TRUE(file_state().running_sync);
  EXPECT_EQ(file_state().running_sync->instance_id, "nvim_1_1");

  ::kill(sync_process, SIGKILL);
  ::waitpid(sync_process, nullptr, 0);
  const double exited = now();
  ASSERT_TRUE(run_until([&] { return granted == 1; }, 5));
  // One heartbeat to see the process gone, exited_sync_settle_delay() (a
  // heartbeat here) for its instance to record the end, one to settle it.
  EXPECT_LE(now() - exited, 3 * c.timings.heartbeat_interval + 1e-6)
      << "the next sync waited for the frozen primary";
  s = file_state();
  ASSERT_TRUE(s.running_sync);
  EXPECT_EQ(s.running_sync->instance_id, "nvim_2_2");
  ASSERT_TRUE(s.last_result);
  EXPECT_EQ(s.last_result->instance_id, "nvim_1_1");
  EXPECT_EQ(s.last_result->outcome, SyncOutcome::cancelled);
  EXPECT_NE(s.last_result->message.find("outcome unknown"), std::string::npos)
      << s.last_result->message;

  // b's sync ends; then `a` thaws and records its own end, late: b's later
  // result stays, and `a` is no longer primary.
  b->end_sync(SyncOutcome::ok, "");
  thaw("nvim_1_1");
  a->end_sync(SyncOutcome::ok, "");
  s = file_state();
  EXPECT_FALSE(s.running_sync);
  ASSERT_TRUE(s.last_result);
  EXPECT_EQ(s.last_result->instance_id, "nvim_2_2");
  EXPECT_EQ(a->role(), Role::secondary);
  a.reset();
}

TEST_F(CoordinatorTest, TheNewMessagesOfEachSyncReachTheFleetsArrivalModel) {
  // sync.adaptive (SPEC §11): the count the host passes to end_sync() is what
  // the model learns; the first sync starts it, each later one teaches its
  // span. Until the model has seen a day, the interval stays sync.interval.
  Recorder ra;
  Config c = config();
  c.timings.adaptive.enabled = true;
  c.timings.heartbeat_interval = 1;  // three minutes of virtual time: fewer real writes
  c.timings.takeover_threshold = 3;
  auto a = make("nvim_1_1", ra, c, 1);
  ra.on_due = [&] { EXPECT_TRUE(a->begin_sync(SyncTrigger::automatic).granted); };
  a->start();
  const int counts[] = {7, 3, 5};
  for (int k = 0; k < 3; ++k) {
    ASSERT_TRUE(run_until([&] { return ra.sync_due == k + 1; }, 120)) << k;
    a->end_sync(SyncOutcome::ok, "", counts[k]);
  }
  const State s = file_state();
  ASSERT_TRUE(s.arrivals);
  double messages = 0;
  double hours = 0;
  for (int h = 0; h < ArrivalModel::buckets; ++h) {
    messages += s.arrivals->messages[static_cast<std::size_t>(h)];
    hours += s.arrivals->hours[static_cast<std::size_t>(h)];
  }
  EXPECT_NEAR(messages, 3 + 5, 1e-3);  // the first sync's 7 had no known span
  EXPECT_NEAR(hours, 2 * 60.0 / 3600, 1e-3);
  EXPECT_EQ(s.arrivals->through, s.last_result->started);
  ASSERT_TRUE(a->status().interval);
  EXPECT_EQ(a->status().interval->reason, "");  // fixed: too little data
  EXPECT_EQ(a->status().interval->seconds, 60);
}

}  // namespace
}  // namespace himalaya::coordinator
