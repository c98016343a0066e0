// sync.adaptive in the simulator (SPEC §11): the invariants hold with it on,
// through faults, churn and push, and on a bursty week it fetches mail sooner
// than the fixed interval at the same number of syncs. The comparison runs in
// virtual time and is deterministic per seed, so its direction is asserted
// here; its figures are measured by `coord-sim --compare-adaptive` (README).
#include <gtest/gtest.h>

#include <string>

#include "sim/compare.h"
#include "sim/fleet.h"

namespace himalaya::sim {
namespace {

TEST(AdaptiveSimTest, TheInvariantsHoldWithAdaptiveOnThroughFaultsChurnAndPush) {
  Options o;
  o.instances = 5;
  o.days = 7;
  o.mail = MailTrace::bursty;
  o.timings.adaptive.enabled = true;
  for (const bool push : {false, true}) {
    o.push = push;
    for (o.seed = 1; o.seed <= 4; ++o.seed) {
      const Report r = simulate(o);
      ASSERT_TRUE(r.violations.empty()) << replay_command(o) << ": " << r.violations.front();
      EXPECT_GT(r.automatic_syncs, 0u) << replay_command(o);
    }
  }
}

TEST(AdaptiveSimTest, AQuietFleetKeepsEveryGapWithinTheAdaptiveBound) {
  // No churn, no faults: fleet.cpp checks that no gap between syncs exceeds
  // max(max_interval, interval, cooldown) plus a heartbeat.
  Options o;
  o.instances = 3;
  o.days = 14;
  o.churn = false;
  o.faults = false;
  o.manual_per_day = 0;
  o.mail = MailTrace::bursty;
  o.timings.adaptive.enabled = true;
  o.timings.adaptive.max_interval = 2400;
  for (o.seed = 1; o.seed <= 3; ++o.seed) {
    const Report r = simulate(o);
    ASSERT_TRUE(r.violations.empty()) << replay_command(o) << ": " << r.violations.front();
    EXPECT_LE(r.longest_gap, 2400 + o.timings.heartbeat_interval + 1);
  }
}

TEST(AdaptiveSimTest, OnBurstyMailItFetchesSoonerThanTheFixedIntervalAtTheSameSyncs) {
  Options o;
  o.instances = 2;
  o.days = 28;
  o.warmup_days = 14;
  o.churn = false;
  o.faults = false;
  o.manual_per_day = 0;
  o.mail = MailTrace::bursty;
  for (o.seed = 1; o.seed <= 3; ++o.seed) {
    const Comparison c = compare_adaptive(o);
    ASSERT_TRUE(c.adaptive.violations.empty()) << c.adaptive.violations.front();
    ASSERT_TRUE(c.fixed.violations.empty()) << c.fixed.violations.front();
    // The same mail, the same number of automatic syncs (within rounding).
    EXPECT_EQ(c.adaptive.messages, c.fixed.messages);
    EXPECT_NEAR(static_cast<double>(c.fixed.automatic_syncs),
                static_cast<double>(c.adaptive.automatic_syncs),
                0.02 * static_cast<double>(c.adaptive.automatic_syncs) + 2);
    EXPECT_LT(c.adaptive.mean_start, c.fixed.mean_start) << "seed " << o.seed;
    EXPECT_LT(c.adaptive.mean_end, c.fixed.mean_end) << "seed " << o.seed;
  }
}

TEST(AdaptiveSimTest, BeforeADayOfObservationTheIntervalStaysFixed) {
  // The flat trace with adaptive on for less than a day: the model needs a
  // day's worth of observed hours, so the schedule is the fixed one until
  // then (one automatic sync per interval, as fleet.cpp counts without it).
  Options o;
  o.seed = 5;
  o.instances = 2;
  o.days = 0.9;
  o.churn = false;
  o.faults = false;
  o.manual_per_day = 0;
  o.mail = MailTrace::flat;
  o.timings.adaptive.enabled = true;
  const Report r = simulate(o);
  ASSERT_TRUE(r.violations.empty()) << r.violations.front();
  EXPECT_NEAR(static_cast<double>(r.automatic_syncs), r.expected_syncs, 1.5);
}

TEST(AdaptiveSimTest, TheReplayCommandNamesTheAdaptiveOptions) {
  Options o;
  o.seed = 3;
  o.mail = MailTrace::bursty;
  o.warmup_days = 2;
  o.timings.adaptive.enabled = true;
  o.timings.adaptive.max_interval = 1800;
  const std::string c = replay_command(o);
  EXPECT_NE(c.find(" --mail bursty"), std::string::npos) << c;
  EXPECT_NE(c.find(" --adaptive --min-interval 120 --max-interval 1800"), std::string::npos) << c;
  EXPECT_NE(c.find(" --warmup 2"), std::string::npos) << c;
}

}  // namespace
}  // namespace himalaya::sim
