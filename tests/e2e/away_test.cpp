// End-to-end: Away (SPEC §11) with a fleet of three real headless Neovims.
//
// Scaled: interval 1 s, cooldown 0.8 s, away after 1.5 s idle, away interval
// 4 s. Headless Neovims get no keys, mouse or focus unless the test sends
// them, so the fleet is away 1.5 s after its hosts start, and its automatic
// syncs (the state file's records of each start) come every 4 s. One
// nvim_input in any of the Neovims then brings a catch-up sync within 1 s:
// the Lua side's vim.on_key sends `input`, the host writes its record at once
// and rings the doorbell, and the primary finds the last sync more than an
// interval old.
//
// LockedSession: the same fleet with input-idle detection out of reach
// (after 60 s), on a private D-Bus whose stand-in logind the test locks and
// unlocks. The primary's himalaya-coord-session reads LockedHint, so a locked
// desktop alone makes the fleet away (syncs 4 s apart), and the unlock brings
// a catch-up sync within 1 s.
#include <gtest/gtest.h>

#include <cstdio>
#include <msgpack.hpp>
#include <string>
#include <vector>

#include "tests/e2e/fleet.h"
#include "tests/support/private_bus.h"

namespace himalaya::e2e {
namespace {

FleetOptions away_options() {
  FleetOptions o;  // interval 1 s, cooldown 0.8 s, sync 0.1 s
  o.debug = false;
  o.away = testing::AwaySetup{1.5, 4};
  return o;
}

void send_keys(NvimProcess& nvim, const std::string& keys) {
  msgpack::sbuffer params;
  msgpack::packer<msgpack::sbuffer> pk(params);
  pk.pack_array(1);
  pk.pack(keys);
  auto r = nvim.call("nvim_input", params, 2s);
  ASSERT_TRUE(r) << "nvim_input: " << r.error().message;
}

// Waits until `count` starts are recorded; false after `timeout`.
bool wait_starts(StartRecorder& recorder, std::size_t count, std::chrono::milliseconds timeout) {
  return wait_until(
      [&] {
        recorder.poll();
        return recorder.starts().size() >= count;
      },
      timeout);
}

bool has_line(const std::vector<std::string>& lines, const std::string& part) {
  for (const auto& line : lines) {
    if (line.find(part) != std::string::npos) {
      return true;
    }
  }
  return false;
}

TEST(Away, AnIdleFleetSyncsEveryAwayIntervalAndOneKeyInAnyNeovimCatchesUpWithinASecond) {
  const FleetOptions options = away_options();
  Fleet fleet;
  ASSERT_TRUE(fleet.start(3, options));
  StartRecorder recorder(fleet.state_file());

  // The start-up sync, one an interval later (the fleet is not away yet at
  // 1.2 s), then away: 4 s apart.
  ASSERT_TRUE(wait_starts(recorder, 4, 15s)) << recorder.starts().size() << " starts\n"
                                             << fleet.log_tails();
  const auto& starts = recorder.starts();
  const double gap = starts[3].time - starts[2].time;
  EXPECT_NEAR(gap, 4, 0.3) << "away interval";
  const auto primary = fleet.primary();
  ASSERT_TRUE(primary) << fleet.log_tails();
  EXPECT_TRUE(has_line(fleet.status_lines(*primary), "(away)"))
      << joined(fleet.status_lines(*primary));

  // A key in each Neovim in turn (secondaries first), each time while the
  // fleet is away and the last sync is more than an interval old.
  std::vector<std::size_t> order;
  for (std::size_t i = 0; i < fleet.size(); ++i) {
    if (i != *primary) {
      order.push_back(i);
    }
  }
  order.push_back(*primary);
  for (std::size_t i : order) {
    // Away again (1.5 s without input), and the last start 1.5 s old or more.
    recorder.poll();
    sleep_until_wall(std::max(recorder.starts().back().time, wall_now()) + 1.6);
    recorder.poll();
    if (wall_now() - recorder.starts().back().time < 1.5) {
      sleep_until_wall(recorder.starts().back().time + 1.6);  // a sync came meanwhile
      recorder.poll();
    }
    const std::size_t seen = recorder.starts().size();
    const double key = wall_now();
    send_keys(fleet.nvim(i), "ihello<Esc>");
    ASSERT_TRUE(wait_starts(recorder, seen + 1, 3s)) << fleet.label(i) << "\n" << fleet.log_tails();
    const double delay = recorder.starts()[seen].time - key;
    EXPECT_LT(delay, 1.0) << "catch-up after a key in " << fleet.label(i) << "\n"
                          << fleet.log_tails();
    EXPECT_GE(delay, 0.0);
    std::printf("catch-up sync %.3f s after a key in %s (%s)\n", delay, fleet.label(i).c_str(),
                i == *primary ? "primary" : "secondary");
  }
  fleet.stop();
}

class LockedSession : public host::testing_logind::PrivateBusTest {};

TEST_F(LockedSession, ALockedDesktopMakesTheFleetAwayAndTheUnlockCatchesUpWithinASecond) {
  start_logind();
  if (HasFatalFailure()) {
    return;
  }
  FleetOptions options = away_options();
  options.away = testing::AwaySetup{60, 4};  // input never idles long enough here
  Fleet fleet;
  fleet.set_environment({"DBUS_SYSTEM_BUS_ADDRESS=" + address_});
  ASSERT_TRUE(fleet.start(3, options));
  StartRecorder recorder(fleet.state_file());

  // Unlocked: the fixed interval, 1 s.
  ASSERT_TRUE(wait_starts(recorder, 3, 10s)) << fleet.log_tails();
  auto primary = fleet.primary();
  ASSERT_TRUE(primary) << fleet.log_tails();
  EXPECT_FALSE(has_line(fleet.status_lines(*primary), "(away)"))
      << joined(fleet.status_lines(*primary));

  set_hint("LockedHint", true);
  ASSERT_TRUE(wait_until([&] { return has_line(fleet.status_lines(*primary), "(away)"); }, 5s))
      << joined(fleet.status_lines(*primary)) << fleet.log_tails();
  // Two starts made while locked are the away interval apart.
  recorder.poll();
  const std::size_t locked_at = recorder.starts().size();
  ASSERT_TRUE(wait_starts(recorder, locked_at + 2, 15s)) << fleet.log_tails();
  const auto& starts = recorder.starts();
  EXPECT_NEAR(starts[locked_at + 1].time - starts[locked_at].time, 4, 0.3) << "away interval";

  // Unlock once the last sync is more than an interval old: a catch-up.
  sleep_until_wall(recorder.starts().back().time + 1.6);
  recorder.poll();
  const std::size_t seen = recorder.starts().size();
  ASSERT_GE(wall_now() - recorder.starts().back().time, 1.5)
      << "a sync started while locked, before the away interval\n"
      << fleet.log_tails();
  const double unlock = wall_now();
  set_hint("LockedHint", false);
  ASSERT_TRUE(wait_starts(recorder, seen + 1, 3s)) << fleet.log_tails();
  const double delay = recorder.starts()[seen].time - unlock;
  EXPECT_GE(delay, 0.0);
  EXPECT_LT(delay, 1.0) << "catch-up after the unlock\n" << fleet.log_tails();
  std::printf("catch-up sync %.3f s after the unlock\n", delay);
  EXPECT_TRUE(wait_until([&] { return !has_line(fleet.status_lines(*primary), "(away)"); }, 5s))
      << joined(fleet.status_lines(*primary));
  fleet.stop();
}

}  // namespace
}  // namespace himalaya::e2e
