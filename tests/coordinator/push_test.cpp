// Push syncs (SPEC §10) in the coordinator: the rule (check_push_sync), the
// transitions that grant one and say when one is due, and the runtime on
// virtual time (mail_changed() to sync_due(push), the follow-up, the timer).
#include <gtest/gtest.h>

#include "coordinator/schedule.h"
#include "coordinator/transitions.h"
#include "runtime_fixture.h"
#include "test_support.h"

namespace himalaya::coordinator {
namespace {

using testing::FakeProbe;
using testing::identity;
using testing::Recorder;
using testing::RuntimeTest;

SyncContext primary_context(std::optional<double> since_last) {
  SyncContext ctx;
  ctx.is_primary = true;
  ctx.since_last = since_last;
  ctx.uptime = 1000;
  ctx.timings.sync_cooldown = 300;
  ctx.timings.interval = 900;
  ctx.timings.push_min_gap = 2;
  return ctx;
}

TEST(PushRuleTest, APushSyncSkipsTheCooldownButKeepsTheMinGap) {
  SyncCheck c = check_push_sync(primary_context(10));
  EXPECT_TRUE(c.start) << "10 s after the last sync is inside the cooldown, not the min_gap";
  EXPECT_FALSE(check_automatic_sync(primary_context(10)).start);

  c = check_push_sync(primary_context(0.5));
  EXPECT_FALSE(c.start);
  EXPECT_EQ(c.block, SyncBlock::min_gap);
  EXPECT_DOUBLE_EQ(c.wait, 1.5);

  EXPECT_TRUE(check_push_sync(primary_context(std::nullopt)).start) << "never synced";
}

TEST(PushRuleTest, APushSyncWaitsForARunningSyncAndIsThePrimarysAlone) {
  SyncContext running = primary_context(100);
  running.running = true;
  EXPECT_EQ(check_push_sync(running).block, SyncBlock::running);
  SyncContext secondary = primary_context(100);
  secondary.is_primary = false;
  EXPECT_EQ(check_push_sync(secondary).block, SyncBlock::not_primary);
}

class PushTransitionsTest : public ::testing::Test {
 protected:
  PushTransitionsTest() {
    probe_.table[me_.host_pid] = me_.host_start_ticks;
    timings_.interval = 900;
    timings_.sync_cooldown = 300;
    timings_.push_min_gap = 2;
    state_.created = wall0_;
    state_.instances[me_.instance_id] = to_record(me_, wall0_, false);
    state_.primary = Lease{me_.instance_id, wall0_, me_.nvim_pid, ""};
    state_.last_sync_time = wall0_ - 10;  // inside the cooldown
  }
  Self self() const { return Self{me_, timings_, probe_, false, std::nullopt, 0}; }
  Now at(double t) const { return Now{wall0_ + t, 1000 + t, 1000 + t}; }
  Due due_at(double t) {
    memory_.view = state_;
    return next_due(memory_, self(), true, Uptime{1000, false}, at(t));
  }

  double wall0_ = 1'700'000'000.0;
  Identity me_ = identity("nvim_1_1", 101, 1);
  FakeProbe probe_;
  Timings timings_;
  State state_;
  Memory memory_;
};

TEST_F(PushTransitionsTest, GrantingAPushSyncRecordsItAsTheFleetsLastSync) {
  Grant g = grant_sync(state_, memory_, self(), SyncTrigger::push, Uptime{1000, false}, at(0));
  ASSERT_TRUE(g.granted) << g.reason;
  ASSERT_TRUE(state_.running_sync);
  EXPECT_EQ(state_.running_sync->trigger, SyncTrigger::push);
  EXPECT_DOUBLE_EQ(state_.last_sync_time, wall0_) << "the timer's next due time moves back";

  State secondary = state_;
  secondary.running_sync.reset();
  secondary.primary = Lease{"nvim_9_9", wall0_, 9, ""};
  secondary.last_sync_time = wall0_ - 100;
  Memory fresh;
  EXPECT_FALSE(
      grant_sync(secondary, fresh, self(), SyncTrigger::push, Uptime{1000, false}, at(1)).granted);
}

TEST_F(PushTransitionsTest, APendingPushIsDueAtOnceOrAfterTheMinGap) {
  Due d = due_at(0);
  EXPECT_FALSE(d.now);
  EXPECT_NEAR(d.wait, 890, 1e-6) << "no push pending: the timer's due time";

  memory_ = Memory{};
  memory_.push_pending = true;
  d = due_at(0);
  EXPECT_TRUE(d.now);
  EXPECT_EQ(d.trigger, SyncTrigger::push);

  memory_ = Memory{};
  memory_.push_pending = true;
  state_.last_sync_time = wall0_ - 0.5;
  d = due_at(0);
  EXPECT_FALSE(d.now);
  EXPECT_NEAR(d.wait, 1.5, 1e-6) << "the min_gap's rest, not the interval's";
}

TEST_F(PushTransitionsTest, APendingPushWaitsWithoutATimerWhileASyncRuns) {
  state_.running_sync = SyncRecord{"nvim_9_9", wall0_ - 1, 999};
  memory_.push_pending = true;
  const Due d = due_at(0);
  EXPECT_FALSE(d.now);
  EXPECT_LT(d.wait, 0) << "the end of the running sync rings the doorbell; no timer needed";
}

class PushRuntimeTest : public RuntimeTest {
 protected:
  // Heartbeats of 1 s (the push rules do not depend on them): fewer real
  // writes of the state file per virtual second.
  Config config() {
    Config c = RuntimeTest::config();
    c.timings.heartbeat_interval = 1;
    c.timings.takeover_threshold = 5;
    return c;
  }
  // The start-up sync, run to its end: the fleet is inside its cooldown.
  void startup_sync(Coordinator& c, Recorder& r) {
    ASSERT_TRUE(run_until([&] { return r.sync_due == 1; }, 5));
    ASSERT_TRUE(c.begin_sync(SyncTrigger::automatic).granted);
    c.end_sync(SyncOutcome::ok, "");
  }
  // The server reports a change; the push sync it makes due is begun.
  void push_sync_begins(Coordinator& c, Recorder& r) {
    const int before = r.sync_due;
    c.mail_changed();
    ASSERT_TRUE(run_until([&] { return r.sync_due == before + 1; }, 1));
    ASSERT_EQ(r.due_triggers.back(), SyncTrigger::push);
    ASSERT_TRUE(c.begin_sync(SyncTrigger::push).granted);
  }
};

TEST_F(PushRuntimeTest, AChangeOnTheServerGivesThePrimaryAPushSyncAtOnce) {
  Recorder ra, rb;
  auto a = make("nvim_1_1", ra, config(), 1);
  auto b = make("nvim_2_2", rb, config(), 2);
  a->start();
  b->start();
  startup_sync(*a, ra);
  run_for(5);  // past the min_gap, well inside the 30 s cooldown
  b->mail_changed();
  run_for(1);
  EXPECT_EQ(rb.sync_due, 0) << "a secondary holds no watcher and never push-syncs";

  const double changed = now();
  a->mail_changed();
  ASSERT_TRUE(run_until([&] { return ra.sync_due == 2; }, 1));
  EXPECT_EQ(ra.due_triggers.back(), SyncTrigger::push);
  EXPECT_LT(ra.due_at.back() - changed, 0.01);
  ASSERT_TRUE(a->begin_sync(SyncTrigger::push).granted);
  EXPECT_EQ(file_state().running_sync->trigger, SyncTrigger::push);
}

TEST_F(PushRuntimeTest, ChangesDuringASyncGiveOneFollowUpAfterIt) {
  Recorder ra;
  auto a = make("nvim_1_1", ra, config(), 1);
  a->start();
  startup_sync(*a, ra);
  run_for(5);
  push_sync_begins(*a, ra);
  for (int i = 0; i < 3; ++i) {  // three deliveries while it runs
    a->mail_changed();
    run_for(1);
  }
  EXPECT_EQ(ra.sync_due, 2) << "nothing is due while the sync runs";
  const double ended = now();
  a->end_sync(SyncOutcome::ok, "");
  ASSERT_TRUE(run_until([&] { return ra.sync_due == 3; }, 1));
  EXPECT_EQ(ra.due_triggers.back(), SyncTrigger::push);
  EXPECT_LT(ra.due_at.back() - ended, 0.01) << "the sync ran longer than the min_gap";
  ASSERT_TRUE(a->begin_sync(SyncTrigger::push).granted);
  a->end_sync(SyncOutcome::ok, "");
  run_for(10);
  EXPECT_EQ(ra.sync_due, 3) << "one follow-up for all three changes";
}

TEST_F(PushRuntimeTest, ABurstOfChangesRightAfterASyncWaitsForTheMinGap) {
  Recorder ra;
  auto a = make("nvim_1_1", ra, config(), 1);
  a->start();
  startup_sync(*a, ra);
  run_for(5);
  const double started = now();
  push_sync_begins(*a, ra);
  run_for(0.2);
  a->end_sync(SyncOutcome::ok, "");
  a->mail_changed();
  a->mail_changed();
  ASSERT_TRUE(run_until([&] { return ra.sync_due == 3; }, 5));
  EXPECT_NEAR(ra.due_at.back() - started, 2, 0.06) << "min_gap 2 s after the last start";
  EXPECT_EQ(ra.due_triggers.back(), SyncTrigger::push);
}

TEST_F(PushRuntimeTest, APushSyncMovesTheTimersNextSyncAnIntervalLater) {
  Recorder ra;
  Config c = config();
  c.timings.interval = 40;
  auto a = make("nvim_1_1", ra, c, 1);
  a->start();
  startup_sync(*a, ra);
  run_for(20);
  const double pushed = now();
  push_sync_begins(*a, ra);
  a->end_sync(SyncOutcome::ok, "");
  ASSERT_TRUE(run_until([&] { return ra.sync_due == 3; }, 60));
  EXPECT_EQ(ra.due_triggers.back(), SyncTrigger::automatic);
  EXPECT_NEAR(ra.due_at.back() - pushed, 40, 0.06) << "interval after the push sync, not before";
}

TEST_F(PushRuntimeTest, APendingPushIsDroppedWhenThePrimaryHandsOver) {
  Recorder ra, rb;
  auto a = make("nvim_1_1", ra, config(), 1);
  auto b = make("nvim_2_2", rb, config(), 2);
  a->start();
  b->start();
  startup_sync(*a, ra);
  run_for(5);
  ASSERT_TRUE(b->begin_sync(SyncTrigger::manual).granted);  // a sync of the fleet runs
  a->mail_changed();
  run_for(1);
  EXPECT_EQ(ra.sync_due, 1);
  a->release();  // VimSuspend: a hands over while the push waits
  ASSERT_TRUE(run_until([&] { return b->role() == Role::primary; }, 2));
  b->end_sync(SyncOutcome::ok, "");
  run_for(5);
  EXPECT_EQ(ra.sync_due, 1) << "the released instance must not push-sync";
  EXPECT_EQ(rb.sync_due, 0) << "b's own watcher has reported nothing";
  a->resume();
  b->stop();  // a is primary again: the change it saw before is b's sync's, long fetched
  ASSERT_TRUE(run_until([&] { return a->role() == Role::primary; }, 2));
  run_for(5);
  EXPECT_EQ(ra.sync_due, 1) << "a stale push came back with the role";
}

}  // namespace
}  // namespace himalaya::coordinator
