// Channels over simulated days (sim/channel_fleet.h): the real coordinator
// runtime with Config::channels, editors coming and going, SIGKILLs.
#include <gtest/gtest.h>

#include <cmath>
#include <sstream>

#include "sim/channel_fleet.h"
#include "sim/fleet.h"

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
    // killed, and channels moved. A gone owner's channels moved within the
    // check's 1 s resolution, far under the 30 s heartbeat: the others watch
    // every owner's process (a SIGKILL included).
    EXPECT_GT(r.kills, 0u) << text;
    EXPECT_GT(r.moves, 0u) << text;
    EXPECT_GT(r.covered, 0.99) << text;
    ASSERT_EQ(o.timings.heartbeat_interval, 30);
    EXPECT_LE(r.longest_orphan, 1.0) << text;
  }
}

// Push with channels (SPEC §10 with §11): an arrival in one channel's
// mailboxes syncs that channel, from its owner, as soon as the watcher
// reports it; without push it waits for the channel's timer.
TEST(ChannelSimTest, PushSyncsTheCoveringChannelWithinTheServersDelayAndBreaksNoRule) {
  ChannelOptions o;
  o.days = 1;
  o.arrivals_per_hour = 6;
  const ChannelReport off = simulate_channels(o);
  o.push = true;
  const ChannelReport on = simulate_channels(o);
  const std::string text = report_of(o, on) + report_of(o, off);
  EXPECT_TRUE(on.violations.empty()) << text;
  EXPECT_TRUE(off.violations.empty()) << text;
  ASSERT_GT(on.arrivals, 500u) << text;
  // Each arrival waits the watcher's 0.5 s, then its owner starts at once
  // unless min_gap (2 s) or max_parallel holds it back.
  EXPECT_LE(percentile(on.delays, 0.5), o.push_notify + 0.1) << text;
  EXPECT_LE(percentile(on.delays, 0.95), o.push_notify + o.timings.push_min_gap + 0.1) << text;
  EXPECT_GT(percentile(off.delays, 0.5), 60) << text;
  // Every channel still gets at least its timer's syncs: push only adds.
  for (std::size_t i = 0; i < on.channels.size(); ++i) {
    EXPECT_GE(static_cast<double>(on.channels[i].syncs), on.channels[i].expected - 1)
        << on.channels[i].name << "\n"
        << text;
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
