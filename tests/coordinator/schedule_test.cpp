#include "coordinator/schedule.h"

#include <gtest/gtest.h>

#include "coordinator/clock.h"
#include "test_support.h"

namespace himalaya::coordinator {
namespace {

using testing::FakeProbe;
using testing::here;
using testing::identity;

Timings timings() {
  Timings p;
  p.interval = 900;
  p.startup_delay = 2;
  p.sync_cooldown = 300;
  p.sync_timeout = 598.5;  // with the kill grace, a second and the threshold: deadline 660
  p.takeover_threshold = 60;
  return p;
}

TEST(TimingsTest, RunningSyncDeadlineIsTheSyncTimeoutPlusKillGraceASecondAndTheThreshold) {
  EXPECT_DOUBLE_EQ(timings().running_sync_deadline(), 660);
}

SyncContext primary_ctx(std::optional<double> since_last, double uptime = 1000,
                        bool startup_pending = false) {
  SyncContext c;
  c.is_primary = true;
  c.since_last = since_last;
  c.uptime = uptime;
  c.startup_pending = startup_pending;
  c.timings = timings();
  return c;
}

TEST(ScheduleTest, DueAtLastSyncPlusInterval) {
  EXPECT_FALSE(check_automatic_sync(primary_ctx(899)).start);
  EXPECT_EQ(check_automatic_sync(primary_ctx(899)).block, SyncBlock::not_due);
  EXPECT_DOUBLE_EQ(check_automatic_sync(primary_ctx(800)).wait, 100);
  EXPECT_TRUE(check_automatic_sync(primary_ctx(900)).start);
}

TEST(ScheduleTest, SecondaryNeverSyncsAutomatically) {
  auto c = primary_ctx(5000);
  c.is_primary = false;
  auto r = check_automatic_sync(c);
  EXPECT_FALSE(r.start);
  EXPECT_EQ(r.block, SyncBlock::not_primary);
  EXPECT_EQ(r.reason, "skipped as secondary");
}

TEST(ScheduleTest, RunningSyncBlocksAutomaticSync) {
  auto c = primary_ctx(5000);
  c.running = true;
  EXPECT_EQ(check_automatic_sync(c).block, SyncBlock::running);
}

TEST(ScheduleTest, CooldownWinsOverAShortInterval) {
  auto c = primary_ctx(200);
  c.timings.interval = 60;
  auto r = check_automatic_sync(c);
  EXPECT_FALSE(r.start);
  EXPECT_EQ(r.block, SyncBlock::cooldown);
  EXPECT_DOUBLE_EQ(r.wait, 100);
  EXPECT_EQ(r.reason, "skipped for cooldown (100 s left)");
}

TEST(ScheduleTest, FirstInstanceSyncsAfterStartupDelayIfCooldownPassed) {
  auto early = check_automatic_sync(primary_ctx(400, 1, true));
  EXPECT_FALSE(early.start);
  EXPECT_DOUBLE_EQ(early.wait, 1);
  auto on_time = check_automatic_sync(primary_ctx(400, 2, true));
  EXPECT_TRUE(on_time.start);
  EXPECT_TRUE(on_time.startup_decided);
}

TEST(ScheduleTest, FirstInstanceWithinCooldownWaitsForTheSchedule) {
  auto r = check_automatic_sync(primary_ctx(100, 2, true));
  EXPECT_FALSE(r.start);
  EXPECT_TRUE(r.startup_decided);
  EXPECT_EQ(r.block, SyncBlock::cooldown);
  EXPECT_DOUBLE_EQ(r.wait, 800);  // due at last + interval
}

TEST(ScheduleTest, NeverSyncedSyncsAfterStartupDelay) {
  EXPECT_FALSE(check_automatic_sync(primary_ctx(std::nullopt, 1)).start);
  EXPECT_TRUE(check_automatic_sync(primary_ctx(std::nullopt, 2)).start);
}

TEST(ScheduleTest, TakeoverKeepsTheSchedule) {
  // A new primary by takeover has no start-up sync pending: with the last sync
  // 400 s ago (cooldown over) it still waits for last + interval.
  auto r = check_automatic_sync(primary_ctx(400, 3600, false));
  EXPECT_FALSE(r.start);
  EXPECT_EQ(r.block, SyncBlock::not_due);
  EXPECT_DOUBLE_EQ(r.wait, 500);
}

TEST(SyncClockTest, ElapsedFollowsBoottimeAfterFirstSight) {
  FakeClock c;
  SyncClock sc;
  const double stamp = c.wall() - 100;
  EXPECT_DOUBLE_EQ(sc.since(stamp, c.wall(), c.boottime()), 100);
  c.advance(50);
  EXPECT_DOUBLE_EQ(sc.since(stamp, c.wall(), c.boottime()), 150);
}

TEST(SyncClockTest, ForwardWallJumpOfAnHourCannotSkipTheCooldown) {
  FakeClock c;
  SyncClock sc;
  const double stamp = c.wall();  // a sync just started
  sc.since(stamp, c.wall(), c.boottime());
  c.advance(10);
  c.jump_wall(3600);
  double elapsed = sc.since(stamp, c.wall(), c.boottime());
  EXPECT_DOUBLE_EQ(elapsed, 10);
  auto r = check_automatic_sync(primary_ctx(elapsed));
  EXPECT_EQ(r.block, SyncBlock::cooldown);
  c.advance(290);
  EXPECT_DOUBLE_EQ(sc.since(stamp, c.wall(), c.boottime()), 300);
}

TEST(SyncClockTest, BackwardWallJumpOfAnHourCannotStallTheSchedule) {
  FakeClock c;
  SyncClock sc;
  State s;
  s.last_sync_time = c.wall() - 600;  // ten minutes ago
  sc.since(s.last_sync_time, c.wall(), c.boottime());
  c.jump_wall(-3600);
  c.advance(300);
  // The stamp now lies in the future: it is re-stamped so that the schedule
  // holds (due 900 s after the real start, i.e. now).
  EXPECT_TRUE(restamp_last_sync(s, sc, c.wall(), c.boottime()));
  EXPECT_DOUBLE_EQ(s.last_sync_time, c.wall() - 900);
  EXPECT_TRUE(
      check_automatic_sync(primary_ctx(sc.since(s.last_sync_time, c.wall(), c.boottime()))).start);
  EXPECT_FALSE(restamp_last_sync(s, sc, c.wall(), c.boottime()));
}

TEST(SyncClockTest, StampInTheFutureSeenFirstTimeCountsFromNow) {
  FakeClock c;
  SyncClock sc;
  State s;
  s.last_sync_time = c.wall() + 3600;
  EXPECT_TRUE(restamp_last_sync(s, sc, c.wall(), c.boottime()));
  EXPECT_DOUBLE_EQ(s.last_sync_time, c.wall());
  c.advance(900);
  EXPECT_DOUBLE_EQ(sc.since(s.last_sync_time, c.wall(), c.boottime()), 900);
}

TEST(SyncClockTest, AStampThatChangedBetweenTwoLooksIsNoOlderThanTheFirstLook) {
  FakeClock c;
  SyncClock sc;
  double stamp = c.wall() - 100;
  EXPECT_DOUBLE_EQ(sc.since(stamp, c.wall(), c.boottime()), 100);
  c.advance(30);
  // A sync by an instance on a machine whose clock is an hour behind: its
  // stamp reads as 3,600 s old, but it was not there 30 s ago.
  stamp = c.wall() - 3600 - 10;
  double elapsed = sc.since(stamp, c.wall(), c.boottime());
  EXPECT_DOUBLE_EQ(elapsed, 30);
  EXPECT_EQ(check_automatic_sync(primary_ctx(elapsed)).block, SyncBlock::cooldown);
  c.advance(870);
  EXPECT_DOUBLE_EQ(sc.since(stamp, c.wall(), c.boottime()), 900);
  // With a clock that agrees, the stamp's own age is the tighter bound.
  c.advance(30);
  stamp = c.wall() - 10;
  EXPECT_DOUBLE_EQ(sc.since(stamp, c.wall(), c.boottime()), 10);
}

TEST(SyncClockTest, SuspendCountsTowardsTheSchedule) {
  FakeClock c;
  SyncClock sc;
  const double stamp = c.wall();
  sc.since(stamp, c.wall(), c.boottime());
  c.suspend(8 * 3600);
  EXPECT_TRUE(check_automatic_sync(primary_ctx(sc.since(stamp, c.wall(), c.boottime()))).start);
}

TEST(RunningSyncTest, ActiveWhileOwnerLivesAndWithinTimeout) {
  FakeProbe probe;
  State s;
  auto id = identity("a", 10, 1);
  probe.table[10] = id.host_start_ticks;
  s.instances["a"] = to_record(id, 1, false);
  s.running_sync = SyncRecord{"a", 0, 10};
  EXPECT_TRUE(running_sync_active(s, here(), probe, 100, timings()).active);
  auto over = running_sync_active(s, here(), probe, 661, timings());
  EXPECT_FALSE(over.active);
  EXPECT_EQ(over.outcome, SyncOutcome::timed_out);
}

TEST(RunningSyncTest, OverWhenTheOwnerDied) {
  FakeProbe probe;
  State s;
  s.instances["a"] = to_record(identity("a", 10, 1), 1, false);
  s.running_sync = SyncRecord{"a", 0, 10};
  auto v = running_sync_active(s, here(), probe, 1, timings());
  EXPECT_FALSE(v.active);
  EXPECT_EQ(v.outcome, SyncOutcome::cancelled);
}

TEST(RunningSyncTest, RemoteOwnerIsTrustedUntilTheTimeout) {
  FakeProbe probe;
  State s;
  s.instances["a"] = to_record(identity("a", 10, 1, HostFacts{"laptop", "x"}), 1, false);
  s.running_sync = SyncRecord{"a", 0, 10};
  EXPECT_TRUE(running_sync_active(s, here(), probe, 600, timings()).active);
}

// The running sync of an instance that is frozen (SIGSTOP) after it spawned
// its sync command: the instance is alive, its heartbeat stale, and it cannot
// record the end. The record names the sync process.
State frozen_owner_with_sync_process(FakeProbe& probe) {
  State s;
  auto id = identity("a", 10, 1);
  probe.table[10] = id.host_start_ticks;  // the owner lives (stopped, not dead)
  s.instances["a"] = to_record(id, 1, false);
  SyncRecord r{"a", 0, 10};
  r.sync_pid = 77;
  r.sync_start_ticks = 7700;
  r.hostname = here().hostname;
  r.boot_id = here().boot_id;
  s.running_sync = r;
  return s;
}

TEST(RunningSyncTest, ActiveWhileTheSyncProcessLivesAndWithinTimeout) {
  FakeProbe probe;
  State s = frozen_owner_with_sync_process(probe);
  probe.table[77] = 7700;
  EXPECT_TRUE(running_sync_active(s, here(), probe, 1, timings()).active);
  EXPECT_TRUE(running_sync_active(s, here(), probe, 660, timings()).active);
  // Bounded: a sync process that never ends is over after the timeout.
  auto over = running_sync_active(s, here(), probe, 661, timings());
  EXPECT_FALSE(over.active);
  EXPECT_EQ(over.outcome, SyncOutcome::timed_out);
}

TEST(RunningSyncTest, OverOnceTheSyncProcessExitedThoughItsOwnerLives) {
  FakeProbe probe;
  State s = frozen_owner_with_sync_process(probe);
  auto v = running_sync_active(s, here(), probe, 1, timings());
  EXPECT_FALSE(v.active);
  EXPECT_EQ(v.outcome, SyncOutcome::cancelled);
  EXPECT_NE(v.reason.find("outcome unknown"), std::string::npos) << v.reason;
  EXPECT_NE(v.reason.find("did not record the end"), std::string::npos) << v.reason;
}

TEST(RunningSyncTest, OverWhenTheSyncProcessPidWasReused) {
  FakeProbe probe;
  State s = frozen_owner_with_sync_process(probe);
  probe.table[77] = 9999;  // another process now
  EXPECT_FALSE(running_sync_active(s, here(), probe, 1, timings()).active);
}

TEST(RunningSyncTest, OverOnceTheSyncProcessExitedEvenAfterItsOwnerWasPruned) {
  FakeProbe probe;
  State s = frozen_owner_with_sync_process(probe);
  s.instances.clear();
  EXPECT_FALSE(running_sync_active(s, here(), probe, 1, timings()).active);
  probe.table[77] = 7700;
  EXPECT_TRUE(running_sync_active(s, here(), probe, 1, timings()).active);
}

TEST(RunningSyncTest, SyncProcessThatOutlivesItsDeadOwnerStillBlocks) {
  // A SIGKILLed host: its sync command gets SIGTERM and takes a moment to end.
  FakeProbe probe;
  State s = frozen_owner_with_sync_process(probe);
  probe.table.erase(10);
  probe.table[77] = 7700;
  EXPECT_TRUE(running_sync_active(s, here(), probe, 1, timings()).active);
  probe.table.erase(77);
  EXPECT_FALSE(running_sync_active(s, here(), probe, 1, timings()).active);
}

TEST(RunningSyncTest, SyncProcessOfAnotherHostOrBootIsNotProbed) {
  FakeProbe probe;  // pid 77 is not in this table: it would read as gone
  for (const HostFacts& other : {HostFacts{"laptop", "boot-1"}, HostFacts{"box", "boot-2"}}) {
    State s = frozen_owner_with_sync_process(probe);
    s.running_sync->hostname = other.hostname;
    s.running_sync->boot_id = other.boot_id;
    EXPECT_TRUE(running_sync_active(s, here(), probe, 600, timings()).active)
        << other.hostname << " " << other.boot_id;
  }
}

TEST(RunningSyncTest, RecordWithoutTheSyncProcessBlocksUntilTheTimeout) {
  // A file of an older version, or a record written before the command was
  // spawned: only the owner and the timeout can end it.
  FakeProbe probe;
  State s = frozen_owner_with_sync_process(probe);
  s.running_sync->sync_pid = 0;
  s.running_sync->sync_start_ticks = 0;
  EXPECT_TRUE(running_sync_active(s, here(), probe, 600, timings()).active);
  EXPECT_FALSE(running_sync_active(s, here(), probe, 661, timings()).active);
}

// The decision over time, as a secondary that took over from the frozen owner
// sees it on a fake clock: the sync blocks while its process runs, and stops
// blocking as soon as the process is gone, long before the timeout.
TEST(RunningSyncTest, NextSyncIsDueAsSoonAsTheFrozenOwnersSyncProcessEnded) {
  FakeProbe probe;
  FakeClock clock;
  State s = frozen_owner_with_sync_process(probe);
  s.running_sync->started = clock.wall();
  s.last_sync_time = clock.wall();
  probe.table[77] = 7700;
  Timings p = timings();
  p.sync_timeout = 1800;  // a long sync: its process still runs when the next is due
  SyncClock running_clock;
  SyncClock last_clock;
  auto context = [&] {
    SyncContext c = primary_ctx(last_clock.since(s.last_sync_time, clock.wall(), clock.boottime()));
    c.timings = p;
    double age = running_clock.since(s.running_sync->started, clock.wall(), clock.boottime());
    c.running = running_sync_active(s, here(), probe, age, p).active;
    return c;
  };
  clock.advance(900);  // due, but the sync process still runs
  EXPECT_EQ(check_automatic_sync(context()).block, SyncBlock::running);
  probe.table.erase(77);  // it exits; its owner stays frozen
  clock.advance(1);
  EXPECT_TRUE(check_automatic_sync(context()).start);
}

}  // namespace
}  // namespace himalaya::coordinator
