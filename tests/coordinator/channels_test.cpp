// Channels (SPEC §11): the assignment by bounded, sticky rendezvous hashing,
// the per-channel schedule check, and the `channels` key of the state file.
#include "coordinator/channels.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace himalaya::coordinator {
namespace {

std::vector<std::string> six_channels() {
  return {"inbox", "sent", "archive", "work-inbox", "work-sent", "lists"};
}

// Ids as the host makes them: nvim_<unix seconds at start>_<nvim pid>.
std::vector<std::string> random_ids(std::mt19937& rng, std::size_t n) {
  std::uniform_int_distribution<int> pid(100, 4000000);
  std::uniform_int_distribution<int> start(1700000000, 1800000000);
  std::set<std::string> ids;
  while (ids.size() < n) {
    ids.insert("nvim_" + std::to_string(start(rng)) + "_" + std::to_string(pid(rng)));
  }
  return {ids.begin(), ids.end()};
}

std::map<std::string, int> loads(const Owners& owners, const std::vector<std::string>& ids) {
  std::map<std::string, int> count;
  for (const auto& id : ids) {
    count[id] = 0;
  }
  for (const auto& [channel, owner] : owners) {
    ++count.at(owner);  // throws if the owner is not a candidate
  }
  return count;
}

int spread(const std::map<std::string, int>& count) {
  auto [lo, hi] = std::minmax_element(
      count.begin(), count.end(), [](const auto& a, const auto& b) { return a.second < b.second; });
  return hi->second - lo->second;
}

std::vector<std::string> channel_names(std::size_t n) {
  std::vector<std::string> names;
  for (std::size_t i = 0; i < n; ++i) {
    names.push_back("channel-" + std::to_string(i));
  }
  return names;
}

TEST(ChannelAssignmentTest, TheWeightIsFixedAndSeparatesItsTwoParts) {
  // The same on every host and build: instances on different machines must
  // compute the same owners. The pinned value is FNV-1a 64 of
  // "inbox\0nvim_1700000000_42" through the SplitMix64 finaliser, computed
  // apart from this code (in Python); it catches a changed hash.
  EXPECT_EQ(rendezvous_weight("inbox", "nvim_1700000000_42"), 0xaea136e5835cca2fULL);
  EXPECT_NE(rendezvous_weight("ab", "c"), rendezvous_weight("a", "bc"));
  EXPECT_NE(rendezvous_weight("inbox", "a"), rendezvous_weight("inbox", "b"));
}

TEST(ChannelAssignmentTest, SixChannelsOverThreeInstancesAreTwoEachForEveryIdSet) {
  std::mt19937 rng(1);
  for (int round = 0; round < 2000; ++round) {
    const auto ids = random_ids(rng, 3);
    const Owners owners = assign_channels(six_channels(), ids, {});
    ASSERT_EQ(owners.size(), 6U);
    for (const auto& [id, n] : loads(owners, ids)) {
      ASSERT_EQ(n, 2) << id << " in round " << round;
    }
  }
}

TEST(ChannelAssignmentTest, EveryChannelHasALiveOwnerAndTheSpreadIsAtMostOne) {
  std::mt19937 rng(2);
  for (std::size_t c = 1; c <= 12; ++c) {
    for (std::size_t n = 1; n <= 8; ++n) {
      for (int round = 0; round < 50; ++round) {
        const auto ids = random_ids(rng, n);
        const Owners owners = assign_channels(channel_names(c), ids, {});
        ASSERT_EQ(owners.size(), c);
        EXPECT_LE(spread(loads(owners, ids)), 1) << c << " channels over " << n;
      }
    }
  }
}

TEST(ChannelAssignmentTest, ADepartureMovesOnlyTheDepartedInstancesChannels) {
  std::mt19937 rng(3);
  int moved_total = 0;
  for (std::size_t n = 2; n <= 8; ++n) {
    for (int round = 0; round < 200; ++round) {
      const auto channels = channel_names(1 + rng() % 12);
      auto ids = random_ids(rng, n);
      const Owners before = assign_channels(channels, ids, {});
      const std::string gone = ids[rng() % ids.size()];
      ids.erase(std::find(ids.begin(), ids.end(), gone));
      const Owners after = assign_channels(channels, ids, before);
      ASSERT_EQ(after.size(), channels.size());
      for (const auto& [channel, owner] : before) {
        if (owner != gone) {
          EXPECT_EQ(after.at(channel), owner) << channel << " moved though " << owner << " stayed";
        } else {
          EXPECT_NE(after.at(channel), gone);
          ++moved_total;
        }
      }
      EXPECT_LE(spread(loads(after, ids)), 1);
    }
  }
  EXPECT_GT(moved_total, 0);  // the departures did own channels
}

TEST(ChannelAssignmentTest, AnArrivalMovesChannelsOnlyToTheNewcomer) {
  std::mt19937 rng(4);
  for (std::size_t n = 1; n <= 7; ++n) {
    for (int round = 0; round < 200; ++round) {
      const auto channels = channel_names(1 + rng() % 12);
      auto ids = random_ids(rng, n + 1);
      const std::string newcomer = ids.back();
      ids.pop_back();
      const Owners before = assign_channels(channels, ids, {});
      ids.push_back(newcomer);
      const Owners after = assign_channels(channels, ids, before);
      const auto count = loads(after, ids);
      EXPECT_LE(spread(count), 1);
      int moved = 0;
      for (const auto& [channel, owner] : before) {
        if (after.at(channel) != owner) {
          EXPECT_EQ(after.at(channel), newcomer) << channel;
          ++moved;
        }
      }
      EXPECT_EQ(moved, count.at(newcomer));  // no more than it now holds
    }
  }
}

TEST(ChannelAssignmentTest, TheResultDependsOnTheSetsNotOnTheirOrderAndIsStable) {
  std::mt19937 rng(5);
  auto ids = random_ids(rng, 5);
  auto channels = channel_names(9);
  const Owners owners = assign_channels(channels, ids, {});
  std::shuffle(ids.begin(), ids.end(), rng);
  std::shuffle(channels.begin(), channels.end(), rng);
  EXPECT_EQ(assign_channels(channels, ids, {}), owners);
  EXPECT_EQ(assign_channels(channels, ids, owners), owners);  // nothing moves on a re-run
}

TEST(ChannelAssignmentTest, NoCandidateMeansNoOwner) {
  EXPECT_TRUE(assign_channels(six_channels(), {}, {{"inbox", "nvim_1_1"}}).empty());
  EXPECT_TRUE(assign_channels({}, {"nvim_1_1"}, {}).empty());
}

TEST(ChannelAssignmentTest, TheStateRecordsOwnersAndReportsEachMove) {
  State s;
  const std::vector<ChannelSpec> specs{{"inbox", 120}, {"archive", 3600}};
  std::vector<std::string> moved;
  EXPECT_TRUE(assign_channel_owners(s, specs, {"nvim_1_1", "nvim_2_2"}, moved));
  ASSERT_EQ(s.channels.size(), 2U);
  EXPECT_NE(s.channels["inbox"].owner, s.channels["archive"].owner);
  EXPECT_EQ(moved.size(), 2U);

  moved.clear();
  EXPECT_FALSE(assign_channel_owners(s, specs, {"nvim_1_1", "nvim_2_2"}, moved));
  EXPECT_TRUE(moved.empty());

  const std::string survivor = s.channels["inbox"].owner;
  EXPECT_TRUE(assign_channel_owners(s, specs, {survivor}, moved));
  EXPECT_EQ(s.channels["archive"].owner, survivor);
  ASSERT_EQ(moved.size(), 1U);
  EXPECT_EQ(moved[0].rfind("archive: ", 0), 0U) << moved[0];

  moved.clear();
  EXPECT_TRUE(assign_channel_owners(s, specs, {}, moved));
  EXPECT_TRUE(s.channels["inbox"].owner.empty());
}

TEST(ChannelScheduleTest, OnlyTheOwnerStartsAChannelThatIsDueAndIdle) {
  Timings t;
  t.sync_cooldown = 300;
  const ChannelSpec inbox{"inbox", 120};
  ChannelRecord r;
  r.owner = "me";

  EXPECT_TRUE(check_channel_sync(r, inbox, "me", std::nullopt, 0, 2, t).start);  // never synced
  EXPECT_EQ(check_channel_sync(r, inbox, "other", std::nullopt, 0, 2, t).block,
            ChannelBlock::not_owner);
  EXPECT_EQ(check_channel_sync(r, inbox, "me", std::nullopt, 2, 2, t).block,
            ChannelBlock::max_parallel);

  // The cooldown is min(sync_cooldown, interval): a 2-minute channel runs
  // every 2 minutes under a 5-minute cooldown.
  auto c = check_channel_sync(r, inbox, "me", 100.0, 0, 2, t);
  EXPECT_EQ(c.block, ChannelBlock::cooldown);
  EXPECT_DOUBLE_EQ(c.wait, 20);
  EXPECT_TRUE(check_channel_sync(r, inbox, "me", 120.0, 0, 2, t).start);

  const ChannelSpec archive{"archive", 3600};
  c = check_channel_sync(r, archive, "me", 400.0, 0, 2, t);
  EXPECT_EQ(c.block, ChannelBlock::not_due);
  EXPECT_DOUBLE_EQ(c.wait, 3200);
  c = check_channel_sync(r, archive, "me", 100.0, 0, 2, t);
  EXPECT_EQ(c.block, ChannelBlock::cooldown);
  EXPECT_DOUBLE_EQ(c.wait, 200);

  r.running = SyncRecord{"me", 1, 2};
  EXPECT_EQ(check_channel_sync(r, inbox, "me", 500.0, 0, 2, t).block, ChannelBlock::running);
}

TEST(ChannelStateTest, ChannelsRoundTripBesideTheOldKeys) {
  State s;
  s.last_sync_time = 50;
  ChannelRecord c;
  c.owner = "nvim_1_2";
  c.last_sync_time = 40.5;
  c.running = SyncRecord{"nvim_1_2", 41, 7};
  c.running->sync_pid = 9;
  c.last_result = SyncResult{"nvim_1_2", 30, 31, SyncOutcome::failed, "auth"};
  c.last_result->new_messages = 3;
  s.channels["work-inbox"] = c;
  s.channels["archive"] = ChannelRecord{};

  auto back = parse_state(serialize_state(s));
  ASSERT_TRUE(back.ok()) << back.error().message;
  const State& t = back.value();
  EXPECT_EQ(t.last_sync_time, 50);
  ASSERT_EQ(t.channels.size(), 2U);
  const ChannelRecord& w = t.channels.at("work-inbox");
  EXPECT_EQ(w.owner, "nvim_1_2");
  EXPECT_EQ(w.last_sync_time, 40.5);
  ASSERT_TRUE(w.running);
  EXPECT_EQ(w.running->sync_pid, 9);
  ASSERT_TRUE(w.last_result);
  EXPECT_EQ(w.last_result->outcome, SyncOutcome::failed);
  EXPECT_EQ(w.last_result->new_messages, 3);
  EXPECT_TRUE(t.channels.at("archive").owner.empty());
  EXPECT_FALSE(t.channels.at("archive").running);
  EXPECT_TRUE(t.extra.empty());  // `channels` is a known key
}

TEST(ChannelStateTest, AMalformedChannelNamesItsKey) {
  auto r = parse_state(R"({"created":1,"channels":{"inbox":{"last_sync_time":"soon"}}})");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("channels.inbox.last_sync_time"), std::string::npos)
      << r.error().message;
  r = parse_state(R"({"created":1,"channels":{"inbox":{"running":{"outcome":1}},"x":3}})");
  ASSERT_FALSE(r.ok());
  r = parse_state(R"({"created":1,"channels":{"inbox":{"last_result":{"outcome":"maybe"}}}})");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("channels.inbox.last_result.outcome"), std::string::npos)
      << r.error().message;
}

}  // namespace
}  // namespace himalaya::coordinator
