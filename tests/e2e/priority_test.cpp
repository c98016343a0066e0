// Priority election with real Neovims (SPEC §11): the successor of a primary
// is the live instance with the highest coordination.priority, then the
// longest-running; a live primary is never pre-empted.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <string>
#include <vector>

#include "tests/e2e/fleet.h"

namespace himalaya::e2e {
namespace {

struct Order {
  const char* name;
  // The priorities of A, B and C, and the order they start in (indices into
  // "ABC").
  std::vector<double> priorities;
  std::string start_order;
};

class PriorityElection : public ::testing::TestWithParam<Order> {};

// SIGKILL of an instance's Neovim and host together.
void kill_instance(Fleet& fleet, std::size_t i) {
  const pid_t host = fleet.host_pid(i);
  fleet.nvim(i).kill(SIGKILL);
  ::kill(host, SIGKILL);
  fleet.mark_gone(i);
}

TEST_P(PriorityElection, TheHighestPrioritySucceedsAndALivePrimaryKeepsTheRole) {
  const Order& order = GetParam();
  FleetOptions options;
  options.auto_sync = false;  // the roles are the point here, not the syncs
  Fleet fleet;
  // index_of[letter - 'A'] is that instance's fleet index.
  std::vector<std::size_t> index_of(3);
  for (char letter : order.start_order) {
    const auto which = static_cast<std::size_t>(letter - 'A');
    options.priorities.assign(fleet.size() + 1, 0);
    options.priorities.back() = order.priorities[which];
    const std::size_t i = fleet.add(options);
    index_of[which] = i;
    ASSERT_TRUE(fleet.wait_ready(i, 5s)) << letter << " did not start\n" << fleet.log_tail(i);
    ASSERT_GT(fleet.query_host_pid(i), 0);
    const char* expected = i == 0 ? primary_role : secondary_role;
    ASSERT_TRUE(wait_until([&] { return fleet.role(i) == expected; }, 5s))
        << letter << " is " << fleet.role(i) << ", expected " << expected;
  }
  const std::size_t a = index_of[0];
  const std::size_t b = index_of[1];
  const std::size_t c = index_of[2];
  ASSERT_EQ(a, 0u) << "A starts first";

  // B's higher priority pre-empts no one: over ten heartbeats after the last
  // start, A keeps the role (a stretch observed throughout, not a wait).
  const auto stretch = std::chrono::steady_clock::now() +
                       std::chrono::duration<double>(10 * options.heartbeat_interval);
  while (std::chrono::steady_clock::now() < stretch) {
    ASSERT_EQ(fleet.primary(), std::optional<std::size_t>(a)) << fleet.log_tails();
  }

  kill_instance(fleet, a);
  EXPECT_TRUE(wait_until([&] { return fleet.primary() == std::optional<std::size_t>(b); }, 5s))
      << "B (priority 1) should lead after A\n"
      << fleet.log_tails();
  EXPECT_EQ(fleet.role(c), secondary_role);

  kill_instance(fleet, b);
  EXPECT_TRUE(wait_until([&] { return fleet.primary() == std::optional<std::size_t>(c); }, 5s))
      << "C should lead after B\n"
      << fleet.log_tails();
}

std::string order_name(const ::testing::TestParamInfo<Order>& param) {
  return param.param.name;
}

INSTANTIATE_TEST_SUITE_P(Orders, PriorityElection,
                         ::testing::Values(
                             // The order: A, then B with priority 1, then C.
                             Order{"ABC", {0, 1, 0}, "ABC"},
                             // C started before B, so C is senior: B wins by priority, not age.
                             Order{"ACB", {0, 1, 0}, "ACB"}),
                         order_name);

}  // namespace
}  // namespace himalaya::e2e
