// The runtime against faults of the clocks (issue #6, item 4; SPEC §5 Time):
// the wall clock of the machine, or of one instance only, jumps by an hour.
// Virtual time (fault_fixture.h): World::jump_wall moves the machine's wall
// clock, a SkewedClock one instance's.
#include <gtest/gtest.h>

#include <cstddef>

#include "coordinator/coordinator.h"
#include "fault_fixture.h"
#include "recorder.h"

namespace himalaya::coordinator {
namespace {

using testing::CoordinatorFaultTest;
using testing::Recorder;

// SPEC §5 Time, on the runtime: the wall clock of the machine jumps an hour
// forward just after a sync, then two hours back. No takeover; the cooldown
// is not skipped by the forward jump; the schedule does not stall after the
// backward one. (The pure functions are covered with a FakeClock in
// election_test and schedule_test.)
TEST_F(CoordinatorFaultTest, WallClockJumpsOfAnHourNeitherTakeOverNorSkipCooldownNorStall) {
  Config c = config();
  c.timings.interval = 1.0;
  c.timings.sync_cooldown = 0.6;
  c.timings.takeover_threshold = 2.0;
  Recorder ra, rb;
  auto a = make("nvim_1_1", ra, c, 1);
  auto b = make("nvim_2_2", rb, c, 2);
  Coordinator* who = a.get();
  sync_when_due(ra, who);
  a->start();
  b->start();
  ASSERT_TRUE(run_until([&] { return ra.sync_due == 1; }));
  run_for(0.1);
  world_.jump_wall(3600);  // within the cooldown of the sync just made
  ASSERT_TRUE(run_until([&] { return ra.sync_due == 2; }, 10));
  run_for(0.1);
  world_.jump_wall(-7200);  // the last sync now lies an hour in the future
  ASSERT_TRUE(run_until([&] { return ra.sync_due == 4; }, 10)) << "the schedule stalled";
  for (std::size_t i = 1; i < ra.due_at.size(); ++i) {
    const double gap = ra.due_at[i] - ra.due_at[i - 1];
    EXPECT_GE(gap, c.timings.interval - 0.02)
        << "sync " << i << " came early: cooldown/schedule skipped";
    EXPECT_LT(gap, c.timings.interval + 1.0) << "sync " << i << " came late";
  }
  EXPECT_EQ(a->role(), Role::primary);
  EXPECT_EQ(b->role(), Role::secondary);
  EXPECT_FALSE(rb.became(Role::primary));
  EXPECT_EQ(rb.sync_due, 0);
  // The future stamp was put right, for every reader of the file.
  EXPECT_LE(file_state().last_sync_time, world_.wall());
  a->stop();
  b->stop();
}

// The same jumps on the primary's clock alone, while the secondary's stays
// right: two machines sharing the home, one of them set an hour wrong (or a
// process under faketime). The secondary sees the primary's sync stamps in
// its future. It must not rewrite them in its own frame: the primary would
// then read its own sync as an hour old and sync again at every heartbeat.
TEST_F(CoordinatorFaultTest, WallClockJumpOnThePrimaryAloneNeitherSkipsCooldownNorStalls) {
  Config c = config();
  c.timings.interval = 1.0;
  c.timings.sync_cooldown = 0.6;
  c.timings.takeover_threshold = 2.0;
  auto clock_a = skewed_clock();
  auto clock_b = skewed_clock();
  Recorder ra, rb;
  auto a = make("nvim_1_1", ra, c, 1, clock_a);
  auto b = make("nvim_2_2", rb, c, 2, clock_b);
  Coordinator* who = a.get();
  sync_when_due(ra, who);
  a->start();
  b->start();
  ASSERT_TRUE(run_until([&] { return ra.sync_due == 1; }));
  run_for(0.1);
  clock_a->jump_wall(3600);
  run_for(2.5);
  const int after_forward = ra.sync_due;
  EXPECT_GE(after_forward, 2) << "stalled after the forward jump";
  EXPECT_LE(after_forward, 4) << "synced again and again after the forward jump";
  clock_a->jump_wall(-7200);
  ASSERT_TRUE(run_until([&] { return ra.sync_due >= after_forward + 2; }, 10))
      << "the schedule stalled after the backward jump";
  for (std::size_t i = 1; i < ra.due_at.size(); ++i) {
    const double gap = ra.due_at[i] - ra.due_at[i - 1];
    EXPECT_GE(gap, c.timings.interval - 0.02)
        << "sync " << i << " came early: cooldown/schedule skipped";
  }
  EXPECT_EQ(a->role(), Role::primary);
  EXPECT_FALSE(rb.became(Role::primary));
  a->stop();
  b->stop();
}

// Several machines share one home, and one's clock is an hour behind: its
// sync's stamp reads as an hour old to the others. A takeover right after it
// must keep the schedule (SyncClock: a stamp that changed between two looks
// is no older than the first look), not sync at once.
TEST_F(CoordinatorFaultTest, ATakeoverAfterASyncStampedByAClockAnHourBehindKeepsTheSchedule) {
  Config c = config();
  c.timings.interval = 1.0;
  c.timings.sync_cooldown = 0.6;
  auto clock_a = skewed_clock();
  clock_a->jump_wall(-3600);
  Recorder ra, rb;
  auto a = make("nvim_1_1", ra, c, 1, clock_a);
  auto b = make("nvim_2_2", rb, c, 2);
  Coordinator* who_a = a.get();
  Coordinator* who_b = b.get();
  sync_when_due(ra, who_a);
  sync_when_due(rb, who_b);
  a->start();
  b->start();
  ASSERT_EQ(a->role(), Role::primary);
  ASSERT_TRUE(run_until([&] { return ra.sync_due == 1; }));
  run_for(0.2);  // b reads the file a few times
  a->stop();
  ASSERT_TRUE(run_until([&] { return b->role() == Role::primary; }, 5));
  ASSERT_TRUE(run_until([&] { return rb.sync_due >= 1; }, 10)) << "b never synced";
  // b knows only that a's stamp was new since its previous look at the file,
  // so it may count from up to one heartbeat before the real start.
  const double gap = rb.due_at[0] - ra.due_at[0];
  EXPECT_GE(gap, c.timings.interval - c.timings.heartbeat_interval - 0.02)
      << "b synced " << gap << " s after a's";
  EXPECT_LE(gap, c.timings.interval + 0.5) << "b's first sync was late";
  b->stop();
}

}  // namespace
}  // namespace himalaya::coordinator
