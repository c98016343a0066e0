// Away (SPEC §11, coordinator/away.h): the pure rules with hand-set clock
// readings, then the runtime on virtual time (runtime_fixture.h).
#include "coordinator/away.h"

#include <gtest/gtest.h>

#include "coordinator/interval.h"
#include "coordinator/sync_events.h"
#include "coordinator/transitions.h"
#include "runtime_fixture.h"
#include "test_support.h"

namespace himalaya::coordinator {
namespace {

using testing::FakeProbe;
using testing::identity;

class AwayTest : public ::testing::Test {
 protected:
  AwayTest() {
    probe_.table[me_.host_pid] = me_.host_start_ticks;
    probe_.table[other_.host_pid] = other_.host_start_ticks;
    timings_.heartbeat_interval = 1;
    timings_.takeover_threshold = 3;
    timings_.interval = 900;
    timings_.sync_cooldown = 300;
    timings_.away_after = 900;
    timings_.away_interval = 3600;
  }
  InstanceRecord record(const Identity& who, double last_input) const {
    InstanceRecord r = to_record(who, wall0_, false);
    r.last_input = last_input;
    return r;
  }
  // Both instances last had input at wall0_; `me_` is primary; the last
  // sync started at wall0_.
  State fleet() const {
    State s;
    s.created = wall0_;
    s.instances[me_.instance_id] = record(me_, wall0_);
    s.instances[other_.instance_id] = record(other_, wall0_);
    s.primary = Lease{me_.instance_id, wall0_, me_.nvim_pid, ""};
    s.last_sync_time = wall0_;
    s.last_sync_instance = me_.instance_id;
    return s;
  }
  Self self(Presence presence) const {
    return Self{me_, timings_, probe_, false, std::nullopt, 0, Succession::senior, presence};
  }
  Now at(double t) const { return Now{wall0_ + t, 1000 + t, 1000 + t}; }

  double wall0_ = 1'700'000'000.0;
  Identity me_ = identity("nvim_1_1", 101, 1);
  Identity other_ = identity("nvim_2_2", 102, 2);
  FakeProbe probe_;
  Timings timings_;
};

TEST_F(AwayTest, AnInstanceIsAwayAfterItsIdleTimeOrWhileItsSessionIsIdle) {
  InstanceRecord r = record(me_, wall0_);
  EXPECT_FALSE(instance_away(r, timings_, wall0_ + 899.9));
  EXPECT_TRUE(instance_away(r, timings_, wall0_ + 900));
  r.session_away = true;
  EXPECT_TRUE(instance_away(r, timings_, wall0_ + 1)) << "a locked session is away at once";
}

TEST_F(AwayTest, ARecordWithoutInputTimesOrWithAwayOffIsNeverAway) {
  InstanceRecord older = to_record(me_, wall0_, false);  // an older host's record
  EXPECT_FALSE(instance_away(older, timings_, wall0_ + 1e6));
  timings_.away_after = 0;  // `after = false`
  InstanceRecord r = record(me_, wall0_);
  r.session_away = true;
  EXPECT_FALSE(instance_away(r, timings_, wall0_ + 1e6));
  State s = fleet();
  EXPECT_FALSE(fleet_away(s, timings_, wall0_ + 1e6));
}

TEST_F(AwayTest, TheFleetIsAwayOnlyWhenEveryInstanceIs) {
  State s = fleet();
  s.instances[other_.instance_id].last_input = wall0_ + 500;
  EXPECT_FALSE(fleet_away(s, timings_, wall0_ + 1000)) << "the other instance had input 500 s ago";
  EXPECT_TRUE(fleet_away(s, timings_, wall0_ + 1400));
  s.instances[me_.instance_id].last_input.reset();  // an older host in the fleet
  EXPECT_FALSE(fleet_away(s, timings_, wall0_ + 1e6));
  EXPECT_FALSE(fleet_away(State{}, timings_, wall0_)) << "no instance, no away";
}

// Only the primary reads logind (host/session_process.h): its locked session
// is the session of every instance on its machine, not of one elsewhere.
TEST_F(AwayTest, ALockedSessionReadByThePrimaryMakesItsWholeMachineAway) {
  State s = fleet();
  s.instances[me_.instance_id].session_away = true;  // the primary's reading
  EXPECT_TRUE(session_away_on_its_machine(s, s.instances[other_.instance_id]));
  EXPECT_TRUE(fleet_away(s, timings_, wall0_ + 1)) << "other typed a second ago, yet is locked out";

  Identity elsewhere = identity("nvim_3_3", 103, 3, HostFacts{"desktop", "boot-2"});
  s.instances[elsewhere.instance_id] = record(elsewhere, wall0_);
  EXPECT_FALSE(session_away_on_its_machine(s, s.instances[elsewhere.instance_id]));
  EXPECT_FALSE(fleet_away(s, timings_, wall0_ + 1)) << "another machine's user is there";

  s.instances.erase(elsewhere.instance_id);
  s.instances[other_.instance_id].last_input.reset();  // an older host's record
  EXPECT_FALSE(fleet_away(s, timings_, wall0_ + 1)) << "a record without input times never is";
}

TEST_F(AwayTest, TheIntervalIsTheAwayIntervalWhileTheFleetIsAway) {
  State s = fleet();
  IntervalChoice present = choose_interval(s, timings_, wall0_ + 899);
  EXPECT_EQ(present.seconds, 900);
  EXPECT_EQ(present.reason, IntervalReason::fixed);
  IntervalChoice away = choose_interval(s, timings_, wall0_ + 900);
  EXPECT_EQ(away.seconds, 3600);
  EXPECT_EQ(away.reason, IntervalReason::away);
  EXPECT_STREQ(to_string(away.reason), "away");
}

TEST_F(AwayTest, TheStateFileKeepsThePresenceKeysAndOlderRecordsHaveNone) {
  State s = fleet();
  InstanceRecord& mine = s.instances[me_.instance_id];
  mine.session_away = true;
  mine.returned = wall0_ + 5;
  s.instances[other_.instance_id].last_input.reset();  // an older host's record
  auto back = parse_state(serialize_state(s));
  ASSERT_TRUE(back.ok()) << back.error().message;
  const InstanceRecord& read = back.value().instances.at(me_.instance_id);
  EXPECT_EQ(read.last_input, wall0_);
  EXPECT_TRUE(read.session_away);
  EXPECT_EQ(read.returned, wall0_ + 5);
  EXPECT_FALSE(back.value().instances.at(other_.instance_id).last_input.has_value());
}

TEST_F(AwayTest, ThePresentOwnRecordIsNotRewrittenByALook) {
  State s = fleet();
  EXPECT_FALSE(
      update_own_record(s, self(Presence{wall0_ + 10, false}), OwnRecord::if_changed, wall0_ + 20))
      << "input while present waits for the heartbeat";
}

TEST_F(AwayTest, InputAfterAwayWritesTheRecordAtOnceAndRingsTheDoorbell) {
  State s = fleet();
  const DoorbellFacts before = doorbell_facts(s);
  const double t = 2000;
  ASSERT_TRUE(instance_away(s.instances[me_.instance_id], timings_, wall0_ + t));
  EXPECT_TRUE(
      update_own_record(s, self(Presence{wall0_ + t, false}), OwnRecord::if_changed, wall0_ + t));
  const InstanceRecord& mine = s.instances[me_.instance_id];
  EXPECT_EQ(*mine.last_input, wall0_ + t);
  EXPECT_EQ(mine.returned, wall0_ + t);
  EXPECT_NE(doorbell_facts(s), before);
}

TEST_F(AwayTest, ASessionTurningIdleOrActiveIsWrittenAtOnce) {
  State s = fleet();
  const DoorbellFacts before = doorbell_facts(s);
  EXPECT_TRUE(
      update_own_record(s, self(Presence{wall0_, true}), OwnRecord::if_changed, wall0_ + 5));
  EXPECT_TRUE(s.instances[me_.instance_id].session_away);
  EXPECT_NE(doorbell_facts(s), before);
  EXPECT_TRUE(
      update_own_record(s, self(Presence{wall0_, false}), OwnRecord::if_changed, wall0_ + 6));
  EXPECT_FALSE(s.instances[me_.instance_id].session_away);
}

TEST_F(AwayTest, TheFirstInputAfterAwayGivesACatchUpSyncWhenTheLastIsOlderThanTheInterval) {
  State s = fleet();
  Memory m;
  const double t = 1000;  // the fleet away since 900; the last sync 1000 s ago
  Grant g =
      grant_sync(s, m, self(Presence{wall0_, false}), SyncTrigger::automatic, Uptime{1e4}, at(t));
  EXPECT_FALSE(g.granted) << "away: the next sync is an hour after the last";
  update_own_record(s, self(Presence{wall0_ + t, false}), OwnRecord::if_changed, wall0_ + t);
  g = grant_sync(s, m, self(Presence{wall0_ + t, false}), SyncTrigger::automatic, Uptime{1e4},
                 at(t));
  EXPECT_TRUE(g.granted) << g.reason;
}

TEST_F(AwayTest, NoCatchUpWhenTheLastSyncIsWithinTheInterval) {
  State s = fleet();
  Memory m;
  timings_.away_after = 100;
  const double t = 500;  // away since 100; the last sync 500 s ago, interval 900
  update_own_record(s, self(Presence{wall0_ + t, false}), OwnRecord::if_changed, wall0_ + t);
  Grant g = grant_sync(s, m, self(Presence{wall0_ + t, false}), SyncTrigger::automatic, Uptime{1e4},
                       at(t));
  EXPECT_FALSE(g.granted);
}

TEST_F(AwayTest, TheCatchUpSyncStillWaitsForTheCooldown) {
  timings_.interval = 120;
  timings_.away_after = 150;
  State s = fleet();
  Memory m;
  // Away since 150; the last sync 200 s ago: past the interval, not the cooldown.
  const double t = 200;
  update_own_record(s, self(Presence{wall0_ + t, false}), OwnRecord::if_changed, wall0_ + t);
  Grant g = grant_sync(s, m, self(Presence{wall0_ + t, false}), SyncTrigger::automatic, Uptime{1e4},
                       at(t));
  EXPECT_FALSE(g.granted);
  EXPECT_NE(g.reason.find("cooldown"), std::string::npos) << g.reason;
  g = grant_sync(s, m, self(Presence{wall0_ + t, false}), SyncTrigger::automatic, Uptime{1e4},
                 at(300));
  EXPECT_TRUE(g.granted) << g.reason;
}

// The runtime on virtual time: two instances, both tracked from their start.
class AwayRuntimeTest : public testing::RuntimeTest {
 protected:
  Config config() {
    Config c = RuntimeTest::config();
    c.timings.heartbeat_interval = 0.5;
    c.timings.takeover_threshold = 3;
    c.timings.interval = 6;
    c.timings.sync_cooldown = 3;
    c.timings.away_after = 3;
    c.timings.away_interval = 30;
    return c;
  }
  // Each sync that becomes due is run and ends at once.
  static void run_syncs(Coordinator& c, testing::Recorder& r) {
    r.on_due = [&c] {
      if (c.begin_sync(SyncTrigger::automatic).granted) {
        c.end_sync(SyncOutcome::ok, "");
      }
    };
  }
};

TEST_F(AwayRuntimeTest, AnIdleFleetSyncsEveryAwayIntervalAndASecondarysInputCatchesUpAtOnce) {
  testing::Recorder ra, rb;
  auto a = make("nvim_1_1", ra, config(), 1);
  auto b = make("nvim_2_2", rb, config(), 2);
  run_syncs(*a, ra);
  a->input();
  b->input();
  a->start();
  b->start();
  ASSERT_EQ(a->role(), Role::primary);
  run_for(100);
  // Both are away from 3 s on, before the first 6 s interval is over: after
  // the start-up sync, one every 30 s.
  ASSERT_GE(ra.due_at.size(), 3U);
  for (std::size_t i = 1; i < ra.due_at.size(); ++i) {
    EXPECT_NEAR(ra.due_at[i] - ra.due_at[i - 1], 30, 0.6) << "sync " << i;
  }
  EXPECT_EQ(a->status().interval->reason, "away");
  EXPECT_TRUE(testing::any_contains(ra.debugs, "every instance is away"));

  const int syncs = ra.sync_due;
  ASSERT_TRUE(run_until([&] { return ra.sync_due == syncs + 1; }, 31));
  run_for(10);  // 10 s after the last sync: past the interval
  const int before = ra.sync_due;
  const double back = now();
  b->input();
  ASSERT_TRUE(run_until([&] { return ra.sync_due == before + 1; }, 5));
  EXPECT_LT(ra.due_at.back() - back, 0.01) << "the primary learns by the doorbell";
  EXPECT_EQ(a->status().interval->reason, "");
  EXPECT_TRUE(testing::any_contains(rb.debugs, "this instance is back"));
}

TEST_F(AwayRuntimeTest, InputWithinTheIntervalStartsNoSync) {
  testing::Recorder ra, rb;
  auto a = make("nvim_1_1", ra, config(), 1);
  auto b = make("nvim_2_2", rb, config(), 2);
  run_syncs(*a, ra);
  a->input();
  b->input();
  a->start();
  b->start();
  run_for(40);
  const int syncs = ra.sync_due;
  ASSERT_TRUE(run_until([&] { return ra.sync_due == syncs + 1; }, 31));
  run_for(2);  // 2 s after the last sync: within the 6 s interval
  const int before = ra.sync_due;
  a->input();
  EXPECT_EQ(a->status().interval->reason, "") << "present again: the plain interval";
  run_for(2);
  EXPECT_EQ(ra.sync_due, before) << "no catch-up: the last sync is within the interval";
  // One key keeps it present for away_after (3 s) only: away again before
  // the 6 s interval is over, so the next sync is the away interval's.
  ASSERT_TRUE(run_until([&] { return ra.sync_due == before + 1; }, 30));
  EXPECT_EQ(a->status().interval->reason, "away");
}

TEST_F(AwayRuntimeTest, ALockedSessionIsAwayAndAnUnlockedOneCatchesUp) {
  testing::Recorder ra;
  Config c = config();
  c.timings.away_after = 1000;  // input alone would not make it away here
  auto a = make("nvim_1_1", ra, c, 1);
  run_syncs(*a, ra);
  a->input();
  a->start();
  ASSERT_TRUE(run_until([&] { return ra.sync_due == 1; }, 2));
  a->session_away(true);
  run_for(1);
  EXPECT_EQ(a->status().interval->reason, "away");
  run_for(20);
  EXPECT_EQ(ra.sync_due, 1) << "30 s while the session is locked";
  const double back = now();
  a->session_away(false);
  ASSERT_TRUE(run_until([&] { return ra.sync_due == 2; }, 1));
  EXPECT_LT(ra.due_at.back() - back, 0.01);
}

}  // namespace
}  // namespace himalaya::coordinator
