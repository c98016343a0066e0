// coordination.priority and the succession rules (SPEC §11), on the pure
// election with the fake clock.
#include <gtest/gtest.h>

#include "coordinator/election.h"
#include "coordinator/state.h"
#include "election_fleet.h"
#include "test_support.h"

namespace himalaya::coordinator {
namespace {

using testing::ElectionFleet;

ElectionFleet::Member& add(ElectionFleet& f, const std::string& name, int pid, double started_at,
                           double priority) {
  ElectionFleet::Member& m = f.add(name, pid, started_at);
  m.id.priority = priority;
  return m;
}

TEST(PriorityTest, TheHighestPrioritySucceedsBeforeTheLongestRunning) {
  ElectionFleet f;
  add(f, "a", 10, 100, 0);
  add(f, "b", 11, 300, 1);  // started later, higher priority
  add(f, "c", 12, 200, 0);
  f.heartbeat_round(1);
  ASSERT_EQ(f.primary(), "a");
  f.probe.table.erase(10);  // SIGKILL of the primary
  Decision d = f.step("c", false);
  EXPECT_EQ(d.reason, ElectionReason::primary_dead);
  EXPECT_EQ(f.primary(), "b");
  // b dies too: among the equal priorities left, the longest-running.
  add(f, "d", 13, 150, 0);
  f.step("d");
  f.probe.table.erase(11);
  f.step("c", false);
  EXPECT_EQ(f.primary(), "d");
}

TEST(PriorityTest, ALivePrimaryIsNeverPreemptedByAHigherPriority) {
  ElectionFleet f;
  add(f, "a", 10, 100, 0);
  f.heartbeat_round(1);
  ASSERT_EQ(f.primary(), "a");
  add(f, "b", 11, 200, 5);
  for (int i = 0; i < 10; ++i) {
    f.heartbeat_round(30);
  }
  EXPECT_EQ(f.primary(), "a");
}

TEST(PriorityTest, EqualPrioritiesFallBackToSeniorityThenTheId) {
  ElectionFleet f;
  add(f, "c", 12, 100, 2);
  add(f, "b", 11, 100, 2);
  add(f, "a", 10, 200, 2);
  for (auto n : {"a", "b", "c"}) {
    f.state.instances[n] = to_record(f[n].id, f.clock.wall(), false);
  }
  f.step("a");
  EXPECT_EQ(f.primary(), "b");
}

TEST(PriorityTest, ANegativePriorityComesLast) {
  ElectionFleet f;
  add(f, "a", 10, 100, -1);
  add(f, "b", 11, 200, 0);
  for (auto n : {"a", "b"}) {
    f.state.instances[n] = to_record(f[n].id, f.clock.wall(), false);
  }
  f.step("a");
  EXPECT_EQ(f.primary(), "b");
}

TEST(PriorityTest, AReleasedHighPriorityInstanceIsNoCandidate) {
  ElectionFleet f;
  add(f, "a", 10, 100, 0);
  add(f, "b", 11, 200, 3);
  add(f, "c", 12, 300, 0);
  f.heartbeat_round(1);
  f["b"].released = true;
  f.step("b");
  f.probe.table.erase(10);
  f.step("c", false);
  EXPECT_EQ(f.primary(), "c");
}

TEST(PriorityTest, ThePriorityTravelsInTheStateFileAndAbsentReadsAsZero) {
  State s;
  s.created = 1;
  InstanceRecord r;
  r.instance_id = "nvim_1_2";
  r.priority = 1.5;
  s.instances[r.instance_id] = r;
  auto parsed = parse_state(serialize_state(s));
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed.value().instances.at("nvim_1_2").priority, 1.5);

  s.instances["nvim_1_2"].priority = 0;
  const std::string text = serialize_state(s);
  EXPECT_EQ(text.find("\"priority\""), std::string::npos) << "the default is not written";
  EXPECT_EQ(parse_state(text).value().instances.at("nvim_1_2").priority, 0);

  auto bad =
      parse_state(R"({"instances":{"nvim_1_2":{"instance_id":"nvim_1_2","priority":"high"}}})");
  EXPECT_FALSE(bad.ok()) << "a priority that is not a number makes the file corrupt";
}

// The baseline the simulator compares with: whoever looks first takes over.
TEST(PriorityTest, FirstComeSuccessionGivesTheLeaseToWhoeverLooksFirst) {
  ElectionFleet f;
  f.succession = Succession::first_come;
  add(f, "a", 10, 100, 0);
  add(f, "b", 11, 200, 0);
  add(f, "c", 12, 300, 0);
  f.heartbeat_round(1);
  ASSERT_EQ(f.primary(), "a");
  f.probe.table.erase(10);
  Decision d = f.step("c", false);
  EXPECT_EQ(d.reason, ElectionReason::primary_dead);
  EXPECT_EQ(f.primary(), "c") << "c looked first, b is senior";
  f.step("b", false);
  EXPECT_EQ(f.primary(), "c") << "and a live primary keeps it";
}

TEST(PriorityTest, FirstComeLeavesAHandedOverLeaseVacantForTheNextLook) {
  ElectionFleet f;
  f.succession = Succession::first_come;
  add(f, "a", 10, 100, 0);
  add(f, "b", 11, 200, 0);
  f.heartbeat_round(1);
  f["a"].released = true;
  Decision d = f.step("a");
  EXPECT_EQ(d.reason, ElectionReason::handover);
  EXPECT_EQ(f.primary(), "");
  f.step("b", false);
  EXPECT_EQ(f.primary(), "b");
}

}  // namespace
}  // namespace himalaya::coordinator
