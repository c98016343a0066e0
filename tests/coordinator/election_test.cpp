#include "coordinator/election.h"

#include <gtest/gtest.h>

#include "coordinator/clock.h"
#include "test_support.h"

namespace himalaya::coordinator {
namespace {

using testing::FakeProbe;
using testing::here;
using testing::identity;

Timings timings(double takeover_threshold) {
  Timings t;
  t.takeover_threshold = takeover_threshold;
  return t;
}

// A simulated fleet sharing one State (the file) and one FakeClock. Each
// member keeps its own Observations, as each process does. step() is what the
// runtime does under the lock: refresh its own record on a heartbeat, elect,
// apply, and refresh the lease if it holds it.
class Fleet {
 public:
  struct Member {
    Identity id;
    Observations seen;
    bool released = false;
    bool running = true;  // false: SIGSTOPped, takes no steps
  };

  explicit Fleet(double threshold = 60) : threshold_(threshold) {}

  Member& add(const std::string& name, int pid, double started_at, HostFacts host = here()) {
    members_[name] = Member{identity(name, pid, started_at, std::move(host)), {}, false, true};
    if (members_[name].id.host.hostname == here().hostname &&
        members_[name].id.host.boot_id == here().boot_id) {
      probe.table[pid] = members_[name].id.host_start_ticks;
    }
    return members_[name];
  }

  Decision step(const std::string& name, bool heartbeat = true) {
    Member& m = members_.at(name);
    const double mono = clock.monotonic();
    m.seen.observe(state, mono);
    auto mine = state.instances.find(name);
    if (heartbeat || mine == state.instances.end() || mine->second.released != m.released) {
      state.instances[name] = to_record(m.id, clock.wall(), m.released);
    }
    ElectionContext ctx{name, here(), &probe, &m.seen, mono, timings(threshold_)};
    Decision d = elect(state, ctx);
    apply(d, state, clock.wall());
    if (heartbeat && state.primary && state.primary->instance_id == name && !d.lease_changed) {
      state.primary->last_heartbeat = clock.wall();
    }
    return d;
  }

  // Every running member takes a heartbeat step, then time passes.
  void heartbeat_round(double seconds) {
    for (auto& [name, m] : members_) {
      if (m.running) {
        step(name);
      }
    }
    clock.advance(seconds);
  }

  std::string primary() const { return state.primary ? state.primary->instance_id : ""; }
  Member& operator[](const std::string& name) { return members_.at(name); }

  FakeClock clock;
  FakeProbe probe;
  State state;

 private:
  double threshold_;
  std::map<std::string, Member> members_;
};

TEST(ElectionTest, FirstInstanceBecomesPrimary) {
  Fleet f;
  f.add("a", 10, 100);
  Decision d = f.step("a");
  EXPECT_TRUE(d.lease_changed);
  EXPECT_EQ(d.reason, ElectionReason::vacant);
  EXPECT_EQ(f.primary(), "a");
  EXPECT_EQ(f.state.primary->pid, 1010);  // the Neovim pid, as the Lua plugin wrote it
}

TEST(ElectionTest, SecondInstanceStaysSecondary) {
  Fleet f;
  f.add("a", 10, 100);
  f.add("b", 11, 50);  // longer running, but a live primary keeps the role
  f.step("a");
  Decision d = f.step("b");
  EXPECT_FALSE(d.lease_changed);
  EXPECT_EQ(f.primary(), "a");
}

TEST(ElectionTest, TiesGoToTheLongestRunningThenTheSmallestId) {
  Fleet f;
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
  Fleet f;
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
  Fleet f;
  f.add("a", 10, 100);
  f.add("b", 11, 200);
  f.heartbeat_round(1);
  f.probe.table[10] = 424242;  // pid 10 now names another process
  f.step("b", false);
  EXPECT_EQ(f.primary(), "b");
}

TEST(ElectionTest, StalePrimaryIsReplacedAfterTheThresholdOnlyOnObservedTime) {
  Fleet f(60);
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
  Fleet f(60);
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
  Fleet f(60);
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
  Fleet f(60);
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
  Fleet f(60);
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
  Fleet f(60);
  f.add("old", 10, 100, HostFacts{"box", "boot-0"});
  f.add("new", 11, 200);
  f.probe.table.erase(10);
  f.step("old");
  f.step("new");
  EXPECT_EQ(f.primary(), "old");  // judged by heartbeat only: fresh for now
}

TEST(ElectionTest, LuaPluginPrimaryWithoutRecordIsJudgedByLeaseHeartbeat) {
  Fleet f(60);
  f.add("a", 10, 100);
  f.state.primary = Lease{"nvim_1704123456_7890", f.clock.wall(), 7890, ""};
  f.step("a");
  EXPECT_EQ(f.primary(), "nvim_1704123456_7890");
  f.clock.advance(61);
  f.step("a");
  EXPECT_EQ(f.primary(), "a");
}

TEST(ElectionTest, ReleaseHandsOverToTheLongestRunningCandidate) {
  Fleet f;
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
  Fleet f;
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
  Fleet f;
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
  Fleet f(60);
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
  Fleet f;
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
