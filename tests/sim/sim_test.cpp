// The simulator itself: deterministic per seed, and quiet on a fleet where
// nothing goes wrong. Its 200-seed run is the ctest `sim_seeds`.
#include <gtest/gtest.h>

#include <sstream>

#include "sim/fleet.h"

namespace himalaya::sim {
namespace {

std::string trace_of(Options o) {
  std::ostringstream out;
  o.trace = &out;
  simulate(o);
  return out.str();
}

TEST(SimulatorTest, TheSameSeedGivesTheSameTraceByteForByte) {
  Options o;
  o.seed = 42;
  o.instances = 8;
  o.days = 1;
  const std::string first = trace_of(o);
  EXPECT_GT(first.size(), 1000u);
  EXPECT_EQ(first, trace_of(o));
  o.seed = 43;
  EXPECT_NE(first, trace_of(o));
}

TEST(SimulatorTest, AFleetWhereNothingGoesWrongSyncsOncePerIntervalWithOnePrimary) {
  Options o;
  o.seed = 7;
  o.instances = 4;
  o.days = 2;
  o.churn = false;
  o.faults = false;
  o.manual_per_day = 0;
  const Report r = simulate(o);
  EXPECT_TRUE(r.violations.empty()) << r.violations.front();
  EXPECT_NEAR(static_cast<double>(r.automatic_syncs), 2 * 86400 / o.timings.interval, 1);
  EXPECT_EQ(r.role_changes, 1u);
  EXPECT_EQ(r.uncoordinated_syncs, 0u);
  EXPECT_NEAR(r.longest_gap, o.timings.interval, 1);
}

TEST(SimulatorTest, AKilledPrimaryIsReplacedAndTheScheduleHolds) {
  // Faults and churn on: the invariants hold, and syncs go on through them.
  Options o;
  o.seed = 3;
  o.instances = 6;
  o.days = 1;
  const Report r = simulate(o);
  EXPECT_TRUE(r.violations.empty()) << r.violations.front();
  EXPECT_GT(r.faults, 0u);
  EXPECT_GT(r.role_changes, 1u);
  EXPECT_GT(r.automatic_syncs, 0.5 * r.expected_syncs);
}

TEST(SimulatorTest, PushFetchesMailAtOnceWithoutBreakingTheRules) {
  // The same quiet week of three editors, with and without the primary's
  // IDLE watcher. Mail that arrives while a (simulated, 3-40 s) sync runs
  // waits for the one follow-up, hence the p99.
  Options o;
  o.seed = 7;
  o.instances = 3;
  o.days = 7;
  o.churn = false;
  o.faults = false;
  o.manual_per_day = 0;
  const Report timer = simulate(o);
  o.push = true;
  const Report push = simulate(o);
  EXPECT_TRUE(push.violations.empty()) << push.violations.front();
  EXPECT_GT(push.push_syncs, 0u);
  EXPECT_EQ(timer.push_syncs, 0u);
  EXPECT_GT(percentile(timer.mail_start_delays, 0.5), 300);
  EXPECT_LT(percentile(push.mail_start_delays, 0.5), 0.1);
  EXPECT_LT(percentile(push.mail_start_delays, 0.99), 45);
  EXPECT_EQ(push.role_changes, 1u);
}

TEST(SimulatorTest, PushHoldsTheInvariantsThroughFaultsAndChurn) {
  Options o;
  o.instances = 6;
  o.days = 1;
  o.push = true;
  for (o.seed = 1; o.seed <= 20; ++o.seed) {
    const Report r = simulate(o);
    ASSERT_TRUE(r.violations.empty()) << replay_command(o) << ": " << r.violations.front();
    EXPECT_GT(r.push_syncs, 0u) << replay_command(o);
  }
}

TEST(SimulatorTest, AwayCutsTheSyncsOfNightsAndWeekendsAndCatchesUpAtTheFirstKey) {
  // A week of three editors always open; users at work on weekdays only
  // (sim/users.h). The same users with away on and off.
  Options o;
  o.seed = 3;
  o.instances = 3;
  o.days = 7;
  o.churn = false;
  o.faults = false;
  o.manual_per_day = 0;
  o.users = true;
  const Report on = simulate(o);
  o.timings.away_after = 0;
  const Report off = simulate(o);
  ASSERT_TRUE(on.violations.empty()) << on.violations.front();
  ASSERT_TRUE(off.violations.empty()) << off.violations.front();
  EXPECT_EQ(on.users.returns, off.users.returns) << "the same users";
  EXPECT_GT(off.users.away_syncs, 0u);
  // One sync an hour instead of four, and the first of each away stretch
  // still an interval after the last present one.
  EXPECT_LT(static_cast<double>(on.users.away_syncs),
            0.3 * static_cast<double>(off.users.away_syncs));
  ASSERT_FALSE(on.users.catch_up_delays.empty());
  EXPECT_LT(percentile(on.users.catch_up_delays, 1.0), 1.0)
      << "a catch-up sync within a second of the first key";
}

TEST(SimulatorTest, AwayHoldsTheInvariantsThroughFaultsAndChurn) {
  Options o;
  o.instances = 6;
  o.days = 2;
  o.users = true;
  for (o.seed = 1; o.seed <= 10; ++o.seed) {
    const Report r = simulate(o);
    ASSERT_TRUE(r.violations.empty()) << replay_command(o) << ": " << r.violations.front();
  }
}

TEST(SimulatorTest, ReplayCommandNamesTheSeedAndOptions) {
  Options o;
  o.seed = 1234;
  o.instances = 20;
  o.days = 7;
  o.faults = false;
  o.manual_per_day = 0;
  EXPECT_EQ(replay_command(o),
            "coord-sim --seed 1234 --instances 20 --days 7 --no-faults --mail-per-hour 6 "
            "--manual-per-day 0");
  o.succession = coordinator::Succession::first_come;
  o.wake_jitter = 0.005;
  EXPECT_EQ(replay_command(o),
            "coord-sim --seed 1234 --instances 20 --days 7 --no-faults --mail-per-hour 6 "
            "--manual-per-day 0 --first-come --wake-jitter 0.005");
}

}  // namespace
}  // namespace himalaya::sim
