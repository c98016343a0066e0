// The channel transitions of channel_transitions.h on plain States with a
// fake process table and hand-set clock readings, as transitions_test does
// for the whole command.
#include "coordinator/channel_transitions.h"

#include <gtest/gtest.h>

#include "test_support.h"

namespace himalaya::coordinator {
namespace {

using testing::FakeProbe;
using testing::identity;

class ChannelTransitionsTest : public ::testing::Test {
 protected:
  ChannelTransitionsTest() {
    probe_.table[me_.host_pid] = me_.host_start_ticks;
    probe_.table[other_.host_pid] = other_.host_start_ticks;
    timings_.sync_cooldown = 300;
    timings_.heartbeat_interval = 1;
    timings_.takeover_threshold = 3;
  }
  Self self(std::optional<OwnSync> sync = std::nullopt) const {
    return Self{me_, timings_, probe_, false, sync, 0};
  }
  Now at(double t) const { return Now{wall0_ + t, 1000 + t, 1000 + t}; }
  // Two instances; `inbox` is mine, `archive` the other's.
  State fleet() const {
    State s;
    s.created = wall0_;
    s.instances[me_.instance_id] = to_record(me_, wall0_, false);
    s.instances[other_.instance_id] = to_record(other_, wall0_, false);
    s.channels["inbox"].owner = me_.instance_id;
    s.channels["archive"].owner = other_.instance_id;
    return s;
  }

  double wall0_ = 1'700'000'000.0;
  Identity me_ = identity("nvim_1_1", 101, 1);
  Identity other_ = identity("nvim_2_2", 102, 2);
  FakeProbe probe_;
  Timings timings_;
  ChannelMemory memory_;
  Notes notes_;
  const ChannelSpec inbox_{"inbox", 120};
  const ChannelSpec archive_{"archive", 3600};
};

TEST_F(ChannelTransitionsTest, AGrantRecordsTheChannelsStartAndTheFleetsLastSync) {
  State s = fleet();
  ChannelGrant g = grant_channel_sync(s, memory_, self(), inbox_, 2, at(0));
  ASSERT_TRUE(g.granted) << g.reason;
  const ChannelRecord& c = s.channels.at("inbox");
  ASSERT_TRUE(c.running);
  EXPECT_EQ(c.running->instance_id, me_.instance_id);
  EXPECT_EQ(c.running->hostname, me_.host.hostname);
  EXPECT_EQ(c.last_sync_time, wall0_);
  EXPECT_EQ(s.last_sync_time, wall0_) << "the old key describes the latest sync";
  EXPECT_EQ(s.last_sync_instance, me_.instance_id);
  EXPECT_FALSE(s.running_sync) << "running_sync stays the whole command's";

  // The same channel is not started twice, nor another instance's channel.
  EXPECT_EQ(grant_channel_sync(s, memory_, self(), inbox_, 2, at(500)).check.block,
            ChannelBlock::running);
  EXPECT_EQ(grant_channel_sync(s, memory_, self(), archive_, 2, at(0)).check.block,
            ChannelBlock::not_owner);
}

TEST_F(ChannelTransitionsTest, MaxParallelCountsTheFleetsRunningChannels) {
  State s = fleet();
  s.channels["archive"].running = SyncRecord{other_.instance_id, wall0_, other_.host_pid};
  EXPECT_EQ(grant_channel_sync(s, memory_, self(), inbox_, 1, at(0)).check.block,
            ChannelBlock::max_parallel);
  EXPECT_TRUE(grant_channel_sync(s, memory_, self(), inbox_, 2, at(0)).granted);
  EXPECT_EQ(running_channels(s), 2);
}

TEST_F(ChannelTransitionsTest, APushedChangeMakesAChannelDueAfterMinGapWithoutItsCooldown) {
  timings_.push_min_gap = 2;
  State s = fleet();
  ASSERT_TRUE(grant_channel_sync(s, memory_, self(), inbox_, 2, at(0)).granted);
  record_channel_end(s, self(), "inbox",
                     SyncResult{me_.instance_id, wall0_, wall0_ + 0.5, SyncOutcome::ok, ""});
  EXPECT_FALSE(grant_channel_sync(s, memory_, self(), inbox_, 2, at(1)).granted) << "cooldown";

  EXPECT_TRUE(record_channel_push(s, {"inbox", "not-configured"}, wall0_ + 1));
  EXPECT_EQ(s.channels.count("not-configured"), 0u) << "names without a record are left alone";
  EXPECT_EQ(s.channels.at("archive").pushed, 0) << "only the channels named";
  EXPECT_FALSE(record_channel_push(s, {"inbox"}, wall0_ + 0.5)) << "an older stamp";
  EXPECT_EQ(next_channel_due(s, memory_, self(), {inbox_}, 2, at(1)), 1.0)
      << "min_gap after the last start, not the 300 s cooldown";
  EXPECT_FALSE(grant_channel_sync(s, memory_, self(), inbox_, 2, at(1.5)).granted);
  ChannelGrant g = grant_channel_sync(s, memory_, self(), inbox_, 2, at(2));
  ASSERT_TRUE(g.granted) << g.reason;
  EXPECT_EQ(s.channels.at("inbox").running->trigger, SyncTrigger::push);
  EXPECT_EQ(g.reason, "channel inbox: the server reported a change");

  // A change during that sync gives one follow-up once it ends; then the
  // channel is back on its interval.
  record_channel_push(s, {"inbox"}, wall0_ + 2.1);
  EXPECT_FALSE(grant_channel_sync(s, memory_, self(), inbox_, 2, at(2.2)).granted) << "running";
  record_channel_end(s, self(), "inbox",
                     SyncResult{me_.instance_id, wall0_ + 2, wall0_ + 2.3, SyncOutcome::ok, ""});
  ASSERT_TRUE(grant_channel_sync(s, memory_, self(), inbox_, 2, at(4)).granted);
  record_channel_end(s, self(), "inbox",
                     SyncResult{me_.instance_id, wall0_ + 4, wall0_ + 4.3, SyncOutcome::ok, ""});
  EXPECT_FALSE(grant_channel_sync(s, memory_, self(), inbox_, 2, at(6.5)).granted)
      << "no change since that start";
  EXPECT_EQ(next_channel_due(s, memory_, self(), {inbox_}, 2, at(6.5)), 117.5);
}

TEST_F(ChannelTransitionsTest, APushedChangeIsForTheChannelsOwnerAndWithinMaxParallel) {
  State s = fleet();
  record_channel_push(s, {"archive"}, wall0_);
  EXPECT_FALSE(grant_channel_sync(s, memory_, self(), archive_, 2, at(0)).granted) << "not mine";
  s.channels["other"].running = SyncRecord{other_.instance_id, wall0_, 2};
  s.channels["third"].running = SyncRecord{other_.instance_id, wall0_, 2};
  record_channel_push(s, {"inbox"}, wall0_);
  EXPECT_FALSE(grant_channel_sync(s, memory_, self(), inbox_, 2, at(0)).granted)
      << "max_parallel holds for push too";
}

TEST_F(ChannelTransitionsTest, TheEndIsRecordedOnTheChannelAndAtTheTopLevel) {
  State s = fleet();
  ASSERT_TRUE(grant_channel_sync(s, memory_, self(), inbox_, 2, at(0)).granted);
  EXPECT_TRUE(record_channel_process(s, self(OwnSync{wall0_}), "inbox", wall0_, 4242, 9));
  EXPECT_EQ(s.channels.at("inbox").running->sync_pid, 4242);
  EXPECT_FALSE(record_channel_process(s, self(OwnSync{wall0_}), "inbox", wall0_ - 1, 4242, 9))
      << "another start's record";

  const SyncResult done{me_.instance_id, wall0_, wall0_ + 3, SyncOutcome::ok, "", {}, 2};
  EXPECT_TRUE(record_channel_end(s, self(), "inbox", done));
  EXPECT_FALSE(s.channels.at("inbox").running);
  ASSERT_TRUE(s.channels.at("inbox").last_result);
  EXPECT_EQ(s.channels.at("inbox").last_result->new_messages, 2);
  ASSERT_TRUE(s.last_result);
  EXPECT_EQ(s.last_result->ended, wall0_ + 3);
  EXPECT_EQ(s.last_result->channel, "inbox") << "the top level says which channel it was";

  // An older result does not replace a newer one at the top level.
  const SyncResult older{other_.instance_id, wall0_ - 50, wall0_ + 4, SyncOutcome::failed, "x"};
  record_channel_end(s, Self{other_, timings_, probe_, false, std::nullopt, 0}, "archive", older);
  EXPECT_EQ(s.last_result->started, wall0_);
  EXPECT_EQ(s.channels.at("archive").last_result->outcome, SyncOutcome::failed);
}

TEST_F(ChannelTransitionsTest, AChannelSyncOfADeadInstanceIsSettledAndItsChannelMayRunAgain) {
  State s = fleet();
  s.channels["archive"].running = SyncRecord{other_.instance_id, wall0_, other_.host_pid};
  s.channels["archive"].running->hostname = other_.host.hostname;
  s.channels["archive"].running->boot_id = other_.host.boot_id;
  EXPECT_FALSE(settle_channel_syncs(s, memory_, self(), std::nullopt, at(1), notes_))
      << "its owner lives";

  probe_.table.erase(other_.host_pid);  // SIGKILL
  EXPECT_TRUE(settle_channel_syncs(s, memory_, self(), std::nullopt, at(2), notes_));
  const ChannelRecord& c = s.channels.at("archive");
  EXPECT_FALSE(c.running);
  ASSERT_TRUE(c.last_result);
  EXPECT_EQ(c.last_result->outcome, SyncOutcome::cancelled);
  ASSERT_EQ(notes_.size(), 1u);
  EXPECT_NE(notes_[0].find("channel archive"), std::string::npos) << notes_[0];
}

TEST_F(ChannelTransitionsTest, AnExitedSyncProcessIsLeftToItsInstanceForTheSettleDelay) {
  State s = fleet();
  SyncRecord r{other_.instance_id, wall0_, other_.host_pid};
  r.hostname = other_.host.hostname;
  r.boot_id = other_.host.boot_id;
  r.sync_pid = 700;
  r.sync_start_ticks = 5;
  s.channels["archive"].running = r;
  probe_.table[700] = 5;
  EXPECT_FALSE(settle_channel_syncs(s, memory_, self(), std::nullopt, at(1), notes_));
  probe_.table.erase(700);  // the process exited; its instance is about to record the end
  EXPECT_FALSE(settle_channel_syncs(s, memory_, self(), std::nullopt, at(1.1), notes_));
  const double delay = timings_.exited_sync_settle_delay();
  EXPECT_FALSE(
      settle_channel_syncs(s, memory_, self(), std::nullopt, at(1.1 + delay * 0.5), notes_));
  EXPECT_TRUE(
      settle_channel_syncs(s, memory_, self(), std::nullopt, at(1.1 + delay + 0.01), notes_));
  EXPECT_FALSE(s.channels.at("archive").running);
}

TEST_F(ChannelTransitionsTest, TheNextDueIsTheSoonestOfThisInstancesIdleChannels) {
  State s = fleet();
  s.channels["lists"].owner = me_.instance_id;
  const std::vector<ChannelSpec> specs{inbox_, archive_, {"lists", 600}};
  EXPECT_EQ(next_channel_due(s, memory_, self(), specs, 2, at(0)), 0.0) << "never synced: now";

  ASSERT_TRUE(grant_channel_sync(s, memory_, self(), inbox_, 2, at(0)).granted);
  ASSERT_TRUE(grant_channel_sync(s, memory_, self(), specs[2], 2, at(0)).granted);
  EXPECT_FALSE(next_channel_due(s, memory_, self(), specs, 2, at(1))) << "both run";
  record_channel_end(s, self(), "inbox",
                     {me_.instance_id, wall0_, wall0_ + 5, SyncOutcome::ok, ""});
  record_channel_end(s, self(), "lists",
                     {me_.instance_id, wall0_, wall0_ + 5, SyncOutcome::ok, ""});
  auto due = next_channel_due(s, memory_, self(), specs, 2, at(10));
  ASSERT_TRUE(due);
  EXPECT_DOUBLE_EQ(*due, 110) << "inbox, 120 s after its start";
  EXPECT_EQ(owned_channels(s, specs, me_.instance_id).size(), 2u);
}

}  // namespace
}  // namespace himalaya::coordinator
