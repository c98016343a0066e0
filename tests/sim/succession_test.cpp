// Priority election in the simulator (SPEC §11, §13): the seniority rule and
// the first-come baseline both keep the invariants, and seniority moves the
// role less on a workload of heavy-tailed editor lifetimes.
#include "sim/succession.h"

#include <gtest/gtest.h>

#include <sstream>

#include "sim/fleet.h"

namespace himalaya::sim {
namespace {

using coordinator::Succession;

Options week_of_editors(std::uint64_t seed) {
  Options o;
  o.seed = seed;
  o.instances = 5;
  o.days = 7;
  o.faults = false;  // editors come and go; nothing else moves the role
  o.manual_per_day = 0;
  o.wake_jitter = 0.005;  // who looks first after a change is random
  return o;
}

TEST(SuccessionTest, FirstComeKeepsTheInvariants) {
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    Options o = week_of_editors(seed);
    o.days = 1;
    o.faults = true;
    o.succession = Succession::first_come;
    const Report r = simulate(o);
    EXPECT_TRUE(r.violations.empty()) << "seed " << seed << ": " << r.violations.front();
    EXPECT_GT(r.role_changes, 1u);
  }
}

// Virtual time, so the comparison is deterministic for these seeds. On a
// single seed either rule may come out ahead (who happens to be open when the
// primary leaves); over six seeds of three days with 8 editor slots the
// seniority rule moves the role less often, on the same workload.
TEST(SuccessionTest, SeniorityMovesTheRoleLessThanFirstCome) {
  std::uint64_t senior_changes = 0;
  std::uint64_t first_come_changes = 0;
  for (std::uint64_t seed = 1; seed <= 6; ++seed) {
    Options o = week_of_editors(seed);
    o.days = 3;
    o.instances = 8;
    const Report senior = simulate(o);
    o.succession = Succession::first_come;
    const Report first_come = simulate(o);
    ASSERT_TRUE(senior.violations.empty()) << senior.violations.front();
    ASSERT_TRUE(first_come.violations.empty()) << first_come.violations.front();
    EXPECT_EQ(senior.editors_opened, first_come.editors_opened) << "the same workload";
    senior_changes += senior.role_changes;
    first_come_changes += first_come.role_changes;
  }
  EXPECT_LT(senior_changes, first_come_changes);
}

TEST(SuccessionTest, TheComparisonPrintsBothRulesAndTheRatio) {
  std::ostringstream out;
  Options o = week_of_editors(1);
  o.days = 2;
  EXPECT_TRUE(compare_succession(out, o, 2));
  const std::string text = out.str();
  EXPECT_NE(text.find("first-come role changes per day: median"), std::string::npos) << text;
  EXPECT_NE(text.find("senior     role changes per day: median"), std::string::npos) << text;
  EXPECT_NE(text.find("seniority cuts the median role changes per day by"), std::string::npos)
      << text;
}

}  // namespace
}  // namespace himalaya::sim
