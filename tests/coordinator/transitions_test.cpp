// The transitions of transitions.h, one by one, on plain States with a fake
// process table and hand-set clock readings (as election_test does for the
// election). The runtime tests (coordinator_test.cpp) run them composed.
#include "coordinator/transitions.h"

#include <gtest/gtest.h>

#include "test_support.h"

namespace himalaya::coordinator {
namespace {

using testing::FakeProbe;
using testing::here;
using testing::identity;

class TransitionsTest : public ::testing::Test {
 protected:
  TransitionsTest() {
    probe_.table[me_.host_pid] = me_.host_start_ticks;
    probe_.table[other_.host_pid] = other_.host_start_ticks;
    timings_.heartbeat_interval = 1;
    timings_.takeover_threshold = 3;
    timings_.interval = 900;
    timings_.sync_cooldown = 300;
    timings_.startup_delay = 2;
  }
  Self self(std::optional<OwnSync> sync = std::nullopt, double last_started = 0) const {
    return Self{me_, timings_, probe_, released_, sync, last_started};
  }
  Now at(double t) const { return Now{wall0_ + t, 1000 + t, 1000 + t}; }
  State fleet() const {
    State s;
    s.created = wall0_;
    s.instances[me_.instance_id] = to_record(me_, wall0_, false);
    s.instances[other_.instance_id] = to_record(other_, wall0_, false);
    s.primary = Lease{other_.instance_id, wall0_, other_.nvim_pid, ""};
    return s;
  }
  // The other instance's running sync, with its process `pid` recorded.
  static void running_of(State& s, const Identity& who, double started, int pid) {
    s.running_sync = SyncRecord{who.instance_id, started, who.host_pid};
    s.running_sync->hostname = who.host.hostname;
    s.running_sync->boot_id = who.host.boot_id;
    s.running_sync->sync_pid = pid;
    s.running_sync->sync_start_ticks = 77;
  }

  double wall0_ = 1'700'000'000.0;
  Identity me_ = identity("nvim_1_1", 101, 1);
  Identity other_ = identity("nvim_2_2", 102, 2);
  FakeProbe probe_;
  Timings timings_;
  bool released_ = false;
  Memory memory_;
  Notes notes_;
};

TEST_F(TransitionsTest, AGoneFileIsRebuiltFromTheViewKeepingOnlyThisInstancesRunningSync) {
  State view = fleet();
  view.last_sync_time = wall0_ - 10;
  running_of(view, other_, wall0_ - 10, 500);
  memory_.view = view;
  State gone;  // created == 0
  EXPECT_TRUE(rebuild_from_view(gone, memory_, self(), notes_));
  EXPECT_EQ(gone.last_sync_time, view.last_sync_time);
  ASSERT_TRUE(gone.primary);
  EXPECT_FALSE(gone.running_sync) << "another's sync may have ended since the view";
  EXPECT_EQ(notes_.size(), 1u);

  running_of(view, me_, wall0_ - 10, 500);
  memory_.view = view;
  State gone_again;
  EXPECT_TRUE(rebuild_from_view(gone_again, memory_, self(OwnSync{wall0_ - 10}), notes_));
  EXPECT_TRUE(gone_again.running_sync) << "its own running sync is a fact";

  State present = fleet();
  EXPECT_FALSE(rebuild_from_view(present, memory_, self(), notes_));
  Memory no_view;
  State gone_unseen;
  EXPECT_FALSE(rebuild_from_view(gone_unseen, no_view, self(), notes_));
}

TEST_F(TransitionsTest, TheOwnRecordIsWrittenWhenMissingChangedOrOnAHeartbeatAndRemovedOnLeave) {
  State s;
  EXPECT_TRUE(update_own_record(s, self(), OwnRecord::if_changed, wall0_));
  EXPECT_FALSE(update_own_record(s, self(), OwnRecord::if_changed, wall0_ + 1));
  EXPECT_TRUE(update_own_record(s, self(), OwnRecord::refresh, wall0_ + 2));
  EXPECT_EQ(s.instances.at("nvim_1_1").last_heartbeat, wall0_ + 2);
  released_ = true;
  EXPECT_TRUE(update_own_record(s, self(), OwnRecord::if_changed, wall0_ + 3));
  EXPECT_TRUE(s.instances.at("nvim_1_1").released);
  EXPECT_TRUE(update_own_record(s, self(), OwnRecord::remove, wall0_ + 4));
  EXPECT_EQ(s.instances.count("nvim_1_1"), 0u);
  EXPECT_FALSE(update_own_record(s, self(), OwnRecord::remove, wall0_ + 5));
}

TEST_F(TransitionsTest, ASyncWhoseProcessExitedIsSettledOnlyAfterTheSettleDelay) {
  State s = fleet();
  running_of(s, other_, wall0_, 500);  // process 500 is not in the table: gone
  EXPECT_FALSE(settle_running_sync(s, memory_, self(), at(0), notes_)) << "first sight";
  EXPECT_FALSE(settle_running_sync(s, memory_, self(), at(0.5), notes_));
  ASSERT_TRUE(settle_running_sync(s, memory_, self(), at(1.0), notes_));
  EXPECT_FALSE(s.running_sync);
  ASSERT_TRUE(s.last_result);
  EXPECT_EQ(s.last_result->instance_id, "nvim_2_2");
  EXPECT_EQ(s.last_result->outcome, SyncOutcome::cancelled);
  EXPECT_NE(s.last_result->message.find("outcome unknown"), std::string::npos);
}

TEST_F(TransitionsTest, ARunningSyncProcessKeepsTheSyncAndThisInstancesOwnIsNeverSettledHere) {
  State s = fleet();
  probe_.table[500] = 77;
  running_of(s, other_, wall0_, 500);
  EXPECT_FALSE(settle_running_sync(s, memory_, self(), at(100), notes_));
  EXPECT_TRUE(s.running_sync);
  // Past the deadline it is over, process or not.
  EXPECT_TRUE(
      settle_running_sync(s, memory_, self(), at(timings_.running_sync_deadline() + 1), notes_));
  EXPECT_EQ(s.last_result->outcome, SyncOutcome::timed_out);

  State mine = fleet();
  running_of(mine, me_, wall0_, 501);  // gone, but this instance records its own end
  Memory m;
  EXPECT_FALSE(settle_running_sync(mine, m, self(OwnSync{wall0_}), at(0), notes_));
  EXPECT_FALSE(settle_running_sync(mine, m, self(OwnSync{wall0_}), at(5), notes_));
  EXPECT_TRUE(mine.running_sync);
}

TEST_F(TransitionsTest, ASuspendDoesNotAgeARunningSyncPastItsDeadline) {
  // Found by coord-sim --seed 5 --instances 20 --days 7 --push: the machine
  // slept for hours while a sync ran; on waking, the sync (its process still
  // running, its owner's timeout counting only awake time) looked abandoned
  // and another sync was granted beside it.
  State s = fleet();
  probe_.table[500] = 77;
  running_of(s, other_, wall0_, 500);
  EXPECT_FALSE(settle_running_sync(s, memory_, self(), at(10), notes_));
  const double slept = 4 * timings_.running_sync_deadline();
  const Now woken{wall0_ + 20 + slept, 1000 + 20, 1000 + 20 + slept};  // mono stood still
  EXPECT_FALSE(settle_running_sync(s, memory_, self(), woken, notes_));
  EXPECT_TRUE(s.running_sync) << "settled as abandoned after a suspend";
}

TEST_F(TransitionsTest, TheScheduleKeepsItsLastSyncAcrossARebuildAndThisInstancesLaterStart) {
  State view = fleet();
  view.last_sync_time = wall0_ - 100;
  view.last_sync_instance = "nvim_2_2";
  memory_.view = view;
  State rebuilt = fleet();  // by an instance that had no view of it
  EXPECT_TRUE(keep_schedule(rebuilt, memory_, self(), at(0), notes_));
  EXPECT_EQ(rebuilt.last_sync_time, wall0_ - 100);
  EXPECT_EQ(rebuilt.last_sync_instance, "nvim_2_2");

  State older = view;
  EXPECT_TRUE(keep_schedule(older, memory_, self(std::nullopt, wall0_ - 5), at(0), notes_));
  EXPECT_EQ(older.last_sync_time, wall0_ - 5);
  EXPECT_EQ(older.last_sync_instance, "nvim_1_1");
  EXPECT_FALSE(keep_schedule(older, memory_, self(std::nullopt, wall0_ - 5), at(1), notes_));
}

TEST_F(TransitionsTest, OnlyTheWriterOfAFutureStampReStampsIt) {
  State s = fleet();
  s.last_sync_time = wall0_ + 3600;  // the wall clock went back an hour since
  s.last_sync_instance = "nvim_2_2";
  EXPECT_FALSE(keep_schedule(s, memory_, self(), at(0), notes_));
  EXPECT_EQ(s.last_sync_time, wall0_ + 3600);
  s.last_sync_instance = "nvim_1_1";
  Memory m;
  EXPECT_TRUE(keep_schedule(s, m, self(), at(0), notes_));
  EXPECT_LE(s.last_sync_time, wall0_);
}

TEST_F(TransitionsTest, TheLeaseIsRenewedByItsHolderOnlyAndNotWhenJustWritten) {
  State s = fleet();
  s.primary = Lease{"nvim_1_1", wall0_, 0, ""};
  EXPECT_TRUE(renew_lease(s, self(), Decision{}, wall0_ + 1));
  EXPECT_EQ(s.primary->last_heartbeat, wall0_ + 1);
  EXPECT_EQ(s.primary->pid, me_.nvim_pid);
  Decision fresh;
  fresh.lease_changed = true;
  EXPECT_FALSE(renew_lease(s, self(), fresh, wall0_ + 2));
  s.primary->instance_id = "nvim_2_2";
  EXPECT_FALSE(renew_lease(s, self(), Decision{}, wall0_ + 3));
}

TEST_F(TransitionsTest, ADeadPrimaryIsReplacedByTheElection) {
  State s = fleet();
  probe_.table.erase(other_.host_pid);
  Decision d;
  memory_.seen.observe(s, 1000);
  EXPECT_TRUE(elect_and_apply(s, memory_, self(), at(0), d));
  EXPECT_TRUE(d.lease_changed);
  EXPECT_EQ(s.primary->instance_id, "nvim_1_1");
  EXPECT_EQ(s.instances.count("nvim_2_2"), 0u) << "a dead record is pruned";
}

TEST_F(TransitionsTest, AnAutomaticSyncIsGrantedToThePrimaryWhenDueAndRecorded) {
  State s = fleet();
  s.primary = Lease{"nvim_1_1", wall0_, 0, ""};
  s.last_sync_time = wall0_ - 901;
  Grant g = grant_sync(s, memory_, self(), SyncTrigger::automatic, Uptime{100, false}, at(0));
  ASSERT_TRUE(g.granted) << g.reason;
  ASSERT_TRUE(s.running_sync);
  EXPECT_EQ(s.running_sync->instance_id, "nvim_1_1");
  EXPECT_EQ(s.running_sync->trigger, SyncTrigger::automatic);
  EXPECT_EQ(s.running_sync->boot_id, here().boot_id);
  EXPECT_EQ(s.last_sync_time, wall0_);
  EXPECT_EQ(s.last_sync_instance, "nvim_1_1");
}

TEST_F(TransitionsTest, ASyncStampedWithTheLastSyncsValueStillStartsTheCooldown) {
  // The wall clock went back by exactly the time since the last sync (an hour
  // jump after an hour's interval: found by the simulator with sync.adaptive
  // at its 3600 s bound): the new start's stamp equals the old one. The
  // elapsed time must start again, not run on from the old sync.
  State s = fleet();
  s.primary = Lease{"nvim_1_1", wall0_, 0, ""};
  s.last_sync_time = wall0_;
  memory_.last_sync.since(wall0_, wall0_, 1000);  // seen when it was new
  const Now jumped{wall0_, 1000 + 901, 1000 + 901};
  ASSERT_TRUE(
      grant_sync(s, memory_, self(), SyncTrigger::automatic, Uptime{2000, false}, jumped).granted);
  EXPECT_EQ(s.last_sync_time, wall0_);
  SyncResult done;
  done.instance_id = "nvim_1_1";
  done.started = wall0_;
  done.ended = wall0_ + 30;
  ASSERT_TRUE(record_sync_end(s, self(), done));
  const Now later{wall0_ + 30, 1000 + 931, 1000 + 931};
  Grant g = grant_sync(s, memory_, self(), SyncTrigger::automatic, Uptime{2030, false}, later);
  EXPECT_FALSE(g.granted);
  EXPECT_NE(g.reason.find("cooldown"), std::string::npos) << g.reason;
}

TEST_F(TransitionsTest, ASecondaryACooldownOrARunningSyncRefusesAnAutomaticSync) {
  State s = fleet();  // nvim_2_2 holds the lease
  s.last_sync_time = wall0_ - 901;
  Grant g = grant_sync(s, memory_, self(), SyncTrigger::automatic, Uptime{100, false}, at(0));
  EXPECT_FALSE(g.granted);
  EXPECT_FALSE(s.running_sync);
  EXPECT_EQ(s.last_sync_time, wall0_ - 901);

  s.primary = Lease{"nvim_1_1", wall0_, 0, ""};
  s.last_sync_time = wall0_ - 10;
  Memory m;
  g = grant_sync(s, m, self(), SyncTrigger::automatic, Uptime{100, false}, at(0));
  EXPECT_FALSE(g.granted);
  EXPECT_NE(g.reason.find("cooldown"), std::string::npos) << g.reason;

  running_of(s, other_, wall0_ - 5, 500);
  g = grant_sync(s, m, self(), SyncTrigger::manual, Uptime{100, false}, at(0));
  EXPECT_FALSE(g.granted);
  EXPECT_EQ(g.reason, "a sync is already running (started by nvim_2_2)");
}

TEST_F(TransitionsTest, AManualSyncIgnoresRoleAndCooldown) {
  State s = fleet();
  s.last_sync_time = wall0_ - 10;
  Grant g = grant_sync(s, memory_, self(), SyncTrigger::manual, Uptime{100, false}, at(0));
  ASSERT_TRUE(g.granted);
  EXPECT_EQ(g.reason, "manual sync");
  EXPECT_EQ(s.running_sync->trigger, SyncTrigger::manual);
}

TEST_F(TransitionsTest, TheSyncProcessIsRecordedOnlyInThisInstancesOwnRunningRecord) {
  State s = fleet();
  running_of(s, me_, wall0_, 0);
  EXPECT_TRUE(record_sync_process(s, self(OwnSync{wall0_}), 900, 9000));
  EXPECT_EQ(s.running_sync->sync_pid, 900);
  EXPECT_EQ(s.running_sync->sync_start_ticks, 9000u);
  running_of(s, other_, wall0_ + 1, 0);  // settled by another, which synced since
  EXPECT_FALSE(record_sync_process(s, self(OwnSync{wall0_}), 901, 9001));
  EXPECT_EQ(s.running_sync->sync_pid, 0);
}

TEST_F(TransitionsTest, TheEndOfThisInstancesSyncNeverReplacesALaterResult) {
  State s = fleet();
  running_of(s, me_, wall0_, 0);
  SyncResult mine{"nvim_1_1", wall0_, wall0_ + 5, SyncOutcome::ok, "", SyncTrigger::manual};
  EXPECT_TRUE(record_sync_end(s, self(), mine));
  EXPECT_FALSE(s.running_sync);
  EXPECT_EQ(s.last_result->instance_id, "nvim_1_1");

  SyncResult later{"nvim_2_2",          wall0_ + 50, wall0_ + 60,
                   SyncOutcome::failed, "x",         SyncTrigger::automatic};
  s.last_result = later;
  EXPECT_TRUE(record_sync_end(s, self(), mine));
  EXPECT_EQ(s.last_result->instance_id, "nvim_2_2");
}

TEST_F(TransitionsTest, ASecondaryIsNeverDueButNotesEachFleetDueTime) {
  State s = fleet();
  s.last_sync_time = wall0_ - 100;
  memory_.view = s;
  Due d = next_due(memory_, self(), false, Uptime{100, false}, at(0));
  EXPECT_FALSE(d.now);
  EXPECT_DOUBLE_EQ(d.wait, 800);
  d = next_due(memory_, self(), false, Uptime{100, false}, at(800));
  EXPECT_FALSE(d.now);
  EXPECT_EQ(d.reason, "skipped as secondary: nvim_2_2 is primary");
}

TEST_F(TransitionsTest, AnUncoordinatedInstanceKeepsTheFleetsCooldownUntilItSyncedItself) {
  State s = fleet();
  s.last_sync_time = wall0_ - 100;
  memory_.view = s;
  memory_.last_sync.since(s.last_sync_time, at(0).wall, at(0).boot);
  Due d = next_due_alone(memory_, self(), std::nullopt, Uptime{100, false}, at(0));
  EXPECT_FALSE(d.now);
  EXPECT_DOUBLE_EQ(d.wait, 800);  // max(interval, cooldown) after the fleet's last sync
  d = next_due_alone(memory_, self(), 1000.0, Uptime{100, false}, at(900));
  EXPECT_TRUE(d.now) << "its own timer: an interval after its own last sync";
}

}  // namespace
}  // namespace himalaya::coordinator
