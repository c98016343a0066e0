// Linked with transitions.cpp built with HIMALAYA_DELIBERATELY_BROKEN_FOR_TESTS:
// every instance may run automatic syncs, secondaries included. The simulator
// must catch it within one simulated day, and name the seed that replays it.
#include <gtest/gtest.h>

#include "sim/fleet.h"

namespace himalaya::sim {
namespace {

TEST(BrokenTransitionTest, ASyncGrantedToASecondaryFailsTheSimulatorWithinOneDay) {
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    Options o;
    o.seed = seed;
    o.instances = 5;
    o.days = 1;
    const Report r = simulate(o);
    ASSERT_FALSE(r.violations.empty()) << "seed " << seed << " missed the broken grant";
    EXPECT_NE(r.violations.front().find("which does not hold the lease"), std::string::npos)
        << r.violations.front();
    EXPECT_NE(replay_command(o).find("--seed " + std::to_string(seed) + " "), std::string::npos);
  }
}

}  // namespace
}  // namespace himalaya::sim
