// Channels over simulated days (sim/channel_fleet.h): the real coordinator
// runtime with Config::channels, editors coming and going, SIGKILLs.
#include <gtest/gtest.h>

#include <cmath>
#include <sstream>

#include "sim/channel_fleet.h"

namespace himalaya::sim {
namespace {

std::string report_of(const ChannelOptions& o, const ChannelReport& r) {
  std::ostringstream out;
  print_channel_report(out, o, r);
  return out.str();
}

TEST(ChannelSimTest, EachChannelKeepsItsScheduleThroughChurnAndKillsWithoutOverlap) {
  for (std::uint64_t seed = 1; seed <= 3; ++seed) {
    ChannelOptions o;
    o.seed = seed;
    o.days = 2;
    const ChannelReport r = simulate_channels(o);
    const std::string text = report_of(o, r);
    EXPECT_TRUE(r.violations.empty()) << text;
    ASSERT_EQ(r.channels.size(), 6u);
    for (const ChannelRow& row : r.channels) {
      EXPECT_LE(std::abs(static_cast<double>(row.syncs) - row.expected), 1.0) << row.name << "\n"
                                                                              << text;
    }
    // The workload did what it says: editors came and went, owners were
    // killed, and channels moved; none kept a gone owner past a heartbeat.
    EXPECT_GT(r.kills, 0u) << text;
    EXPECT_GT(r.moves, 0u) << text;
    EXPECT_GT(r.covered, 0.99) << text;
    EXPECT_LE(r.longest_orphan, o.timings.heartbeat_interval + 1) << text;
  }
}

TEST(ChannelSimTest, MaxParallelHoldsWhenOnlyOneChannelMayRun) {
  ChannelOptions o;
  o.days = 1;
  o.channels.max_parallel = 1;
  const ChannelReport r = simulate_channels(o);
  EXPECT_TRUE(r.violations.empty()) << report_of(o, r);
  for (const ChannelRow& row : r.channels) {
    EXPECT_LE(std::abs(static_cast<double>(row.syncs) - row.expected), 1.0) << row.name;
  }
}

TEST(ChannelSimTest, WithoutFaultsEachChannelSyncsExactlyTOverIntervalTimesOneLoginEach) {
  ChannelOptions o;
  o.days = 1;
  o.faults = false;
  const ChannelReport r = simulate_channels(o);
  std::uint64_t syncs = 0;
  for (const ChannelRow& row : r.channels) {
    syncs += row.syncs;
  }
  EXPECT_EQ(r.logins, syncs);
  // 720 + 288 + 96 + 48 + 48 + 24 channel syncs a day against 720 runs of
  // two accounts.
  EXPECT_EQ(r.logins, 1224u) << report_of(o, r);
  EXPECT_EQ(r.mbsync_a_logins, 1440u);
  EXPECT_EQ(r.mbsync_a_channel_syncs, 4320u);
}

}  // namespace
}  // namespace himalaya::sim
