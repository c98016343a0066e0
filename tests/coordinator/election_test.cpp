#include "coordinator/election.h"

#include <gtest/gtest.h>

#include "coordinator/clock.h"
#include "election_fleet.h"
#include "test_support.h"

namespace himalaya::coordinator {
namespace {

using testing::ElectionFleet;
using testing::FakeProbe;
using testing::here;
using testing::identity;
using testing::timings;

TEST(ElectionTest, FirstInstanceBecomesPrimary) {
  ElectionFleet f;
  f.add("a", 10, 100);
  Decision d = f.step("a");
  EXPECT_TRUE(d.lease_changed);
  EXPECT_EQ(d.reason, ElectionReason::vacant);
  EXPECT_EQ(f.primary(), "a");
  EXPECT_EQ(f.state.primary->pid, 1010);  // the Neovim pid, as the Lua plugin wrote it
}

TEST(ElectionTest, SecondInstanceStaysSecondary) {
  ElectionFleet f;
  f.add("a", 10, 100);
  f.add("b", 11, 50);  // longer running, but a live primary keeps the role
  f.step("a");
  Decision d = f.step("b");
  EXPECT_FALSE(d.lease_changed);
  EXPECT_EQ(f.primary(), "a");
}

TEST(ElectionTest, TiesGoToTheLongestRunningThenTheSmallestId) {
  ElectionFleet f;
  f.add("c", 12, 100);
  f.add("b", 11, 100);
  f.add("a", 10, 200);
  // All registered, no primary (as after a primary left).
  for (auto n : {"a", "b", "c"}) {
    f.state.instances[n] = to_record(f[n].id, f.clock.wall(), false);
  }
  Decision d = f.step("a");  // anyone may evaluate; the answer is the same
  EXPECT_EQ(f.primary(), "b");
  EXPECT_EQ(d.reason, ElectionReason::vacant);
}

TEST(ElectionTest, DeadPrimaryOnThisHostIsReplacedAtOnce) {
  ElectionFleet f;
  f.add("a", 10, 100);
  f.add("b", 11, 200);
  f.add("c", 12, 300);
  f.heartbeat_round(1);
  ASSERT_EQ(f.primary(), "a");
  f.probe.table.erase(10);          // SIGKILL
  Decision d = f.step("c", false);  // c notices first, b is the senior candidate
  EXPECT_EQ(d.reason, ElectionReason::primary_dead);
  EXPECT_EQ(f.primary(), "b");
  EXPECT_EQ(f.state.instances.count("a"), 0u);  // pruned
  d = f.step("b", false);
  EXPECT_FALSE(d.lease_changed);
}

TEST(ElectionTest, ReusedPidOfPrimaryCountsAsDead) {
  ElectionFleet f;
  f.add("a", 10, 100);
  f.add("b", 11, 200);
  f.heartbeat_round(1);
  f.probe.table[10] = 424242;  // pid 10 now names another process
  f.step("b", false);
  EXPECT_EQ(f.primary(), "b");
}

TEST(ElectionTest, StalePrimaryIsReplacedAfterTheThresholdOnlyOnObservedTime) {
  ElectionFleet f(60);
  f.add("a", 10, 100);
  f.add("b", 11, 200);
  f.heartbeat_round(30);
  f["a"].running = false;  // SIGSTOP
  for (int i = 0; i < 2; ++i) {
    f.heartbeat_round(30);
    EXPECT_EQ(f.primary(), "a") << i;
  }
  f.heartbeat_round(1);
  EXPECT_EQ(f.primary(), "b");
  // a continues: its first step sees it lost and it does no primary work.
  f["a"].running = true;
  Decision d = f.step("a");
  EXPECT_EQ(f.primary(), "b");
  EXPECT_FALSE(d.lease_changed);
}

TEST(ElectionTest, SuspendOfTheWholeMachineCausesNoTakeover) {
  ElectionFleet f(60);
  f.add("a", 10, 100);
  f.add("b", 11, 200);
  f.heartbeat_round(30);
  f.heartbeat_round(30);
  f.clock.suspend(8 * 3600);  // monotonic stops; wall and boottime move
  f.step("b", false);         // b wakes first and judges before a beats
  EXPECT_EQ(f.primary(), "a");
  f.heartbeat_round(30);
  EXPECT_EQ(f.primary(), "a");
}

TEST(ElectionTest, WallClockJumpsCauseNoTakeover) {
  ElectionFleet f(60);
  f.add("a", 10, 100);
  f.add("b", 11, 200);
  f.heartbeat_round(30);
  f.clock.jump_wall(3600);
  f.heartbeat_round(30);
  f.clock.jump_wall(-7200);
  f.heartbeat_round(30);
  f.heartbeat_round(30);
  EXPECT_EQ(f.primary(), "a");
}

TEST(ElectionTest, AReaderThatWasItselfStoppedDoesNotTakeOverOnWaking) {
  ElectionFleet f(60);
  f.add("a", 10, 100);
  f.add("b", 11, 200);
  f.heartbeat_round(30);
  f["b"].running = false;
  for (int i = 0; i < 10; ++i) {
    f.heartbeat_round(30);  // a keeps beating, b sees nothing
  }
  f["b"].running = true;
  f.step("b");  // b's last sight of a's heartbeat is 300 s old, but it changed
  EXPECT_EQ(f.primary(), "a");
}

TEST(ElectionTest, RecordsFromOtherHostsAreJudgedByHeartbeat) {
  ElectionFleet f(60);
  f.add("remote", 10, 100, HostFacts{"laptop", "boot-9"});
  f.add("local", 11, 200);
  f.step("remote");
  f.step("local");
  ASSERT_EQ(f.primary(), "remote");
  // pid 10 does not exist here, yet the remote primary is not dead: it beats.
  f.heartbeat_round(30);
  f.heartbeat_round(30);
  EXPECT_EQ(f.primary(), "remote");
  f["remote"].running = false;  // the laptop went away
  // local last saw a change in the first round below (the final beat of the
  // remote); it takes over once that is more than 60 s old.
  for (int i = 0; i < 3; ++i) {
    f.heartbeat_round(30);
    EXPECT_EQ(f.primary(), "remote") << i;
  }
  f.heartbeat_round(30);
  EXPECT_EQ(f.primary(), "local");
}

TEST(ElectionTest, RecordFromAnEarlierBootIsNotProbed) {
  ElectionFleet f(60);
  f.add("old", 10, 100, HostFacts{"box", "boot-0"});
  f.add("new", 11, 200);
  f.probe.table.erase(10);
  f.step("old");
  f.step("new");
  EXPECT_EQ(f.primary(), "old");  // judged by heartbeat only: fresh for now
}

TEST(ElectionTest, LuaPluginPrimaryWithoutRecordIsJudgedByLeaseHeartbeat) {
  ElectionFleet f(60);
  f.add("a", 10, 100);
  f.state.primary = Lease{"nvim_1704123456_7890", f.clock.wall(), 7890, ""};
  f.step("a");
  EXPECT_EQ(f.primary(), "nvim_1704123456_7890");
  f.clock.advance(61);
  f.step("a");
  EXPECT_EQ(f.primary(), "a");
}

TEST(ElectionTest, ReleaseHandsOverToTheLongestRunningCandidate) {
  ElectionFleet f;
  f.add("a", 10, 100);
  f.add("b", 11, 300);
  f.add("c", 12, 200);
  f.heartbeat_round(1);
  f["a"].released = true;
  Decision d = f.step("a");
  EXPECT_EQ(d.reason, ElectionReason::handover);
  EXPECT_EQ(f.primary(), "c");
  // Resuming does not take the role back from a live primary.
  f["a"].released = false;
  f.step("a");
  EXPECT_EQ(f.primary(), "c");
}

TEST(ElectionTest, ReleaseWithNoCandidateLeavesTheLeaseVacantUntilResume) {
  ElectionFleet f;
  f.add("a", 10, 100);
  f.step("a");
  f["a"].released = true;
  f.step("a");
  EXPECT_EQ(f.primary(), "");
  f["a"].released = false;
  f.step("a");
  EXPECT_EQ(f.primary(), "a");
}

TEST(ElectionTest, LeavingInstanceHandsOver) {
  ElectionFleet f;
  f.add("a", 10, 100);
  f.add("b", 11, 200);
  f.heartbeat_round(1);
  f.state.instances.erase("a");  // stop(): own record removed
  ElectionContext ctx{"a", here(), &f.probe, &f["a"].seen, f.clock.monotonic(), timings(60)};
  Decision d = elect(f.state, ctx);
  apply(d, f.state, f.clock.wall());
  EXPECT_EQ(d.reason, ElectionReason::handover);
  EXPECT_EQ(f.primary(), "b");
}

TEST(ElectionTest, StaleSecondariesAreNotCandidatesAndArePruned) {
  ElectionFleet f(60);
  f.add("a", 10, 100);
  f.add("b", 11, 150, HostFacts{"laptop", "boot-9"});
  f.add("c", 12, 200);
  f.heartbeat_round(1);
  f["b"].running = false;
  for (int i = 0; i < 3; ++i) {
    f.heartbeat_round(30);
  }
  f.probe.table.erase(10);
  f.step("c", false);
  EXPECT_EQ(f.primary(), "c");  // b is senior but stale
  for (int i = 0; i < 3; ++i) {
    f.heartbeat_round(30);
  }
  EXPECT_EQ(f.state.instances.count("b"), 0u);
}

TEST(ElectionTest, StartStormOfManyGivesExactlyOnePrimary) {
  ElectionFleet f;
  for (int i = 0; i < 50; ++i) {
    f.add("n" + std::to_string(100 + i), 1000 + i, 100 + (i % 7));
  }
  for (int i = 49; i >= 0; --i) {
    f.step("n" + std::to_string(100 + i));
  }
  EXPECT_EQ(f.primary(), "n149");  // the first to take the lock wins a vacant lease
  for (int r = 0; r < 5; ++r) {
    f.heartbeat_round(10);
    EXPECT_EQ(f.primary(), "n149");
  }
}

}  // namespace
}  // namespace himalaya::coordinator
