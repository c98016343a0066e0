// End-to-end: automatic sync with a fleet of real headless Neovims.
//
// Every Neovim of a fleet has its own TestHome (XDG directories, socket, host
// log) and shares one directory with the others, which holds the state file,
// the sync lock file and the sync log. The sync command is
// tests/e2e/fake_sync.sh, which appends "start <label> <time>" and
// "end <label> <time>" to the sync log; each Neovim passes its own label
// (nvim1, nvim2, ...) in its own command argv, so the log says which instance
// ran each sync. Times in the log are the wall clock (`date +%s.%N`), the
// same clock as system_clock here and as the host's records in the state file.
//
// Durations are scaled down (SPEC §3 allows fractional seconds): heartbeat
// 0.1 s, takeover after 0.6 s, first check 0.2 s after start.
//
// The fleet harness (Fleet, the sync log and state file readers) is in
// tests/e2e/fleet.h.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/e2e/fleet.h"
#include "tests/support/nvim_process.h"

namespace himalaya::e2e {
namespace {

// --- 1. Once per interval, fleet-wide ---------------------------------------

TEST(AutoSync, FleetOfThreeSyncsOncePerIntervalWithoutOverlap) {
  FleetOptions options;  // interval 1 s, cooldown 0.8 s, sync takes 0.1 s
  Fleet fleet;
  ASSERT_TRUE(fleet.start(3, options));
  std::vector<std::string> ids;
  for (std::size_t i = 0; i < fleet.size(); ++i) {
    ids.push_back(fleet.instance_id(i));
  }

  // The hosts' own records of each start; their count is checked against the
  // commands that ran, below.
  StartRecorder recorder(fleet.state_file());
  const std::vector<LastSync>& starts = recorder.starts();

  // The observation window runs from the first recorded start for `window`
  // seconds of the wall clock (the clock of the records; nothing steps it in
  // a test run). It is a fixed window: the assertions are counts over it.
  constexpr double window = 12.0;
  ASSERT_TRUE(wait_until(
      [&] {
        recorder.poll();
        return !starts.empty();
      },
      5s))
      << "no sync started within 5 s";
  const double first = starts.front().time;
  ASSERT_TRUE(wait_until(
      [&] {
        recorder.poll();
        return wall_now() >= first + window;
      },
      std::chrono::milliseconds(static_cast<int>(window * 1000) + 5000)));
  const double window_end = wall_now();

  // Exactly one primary at the end of the window.
  std::vector<std::string> roles;
  for (std::size_t i = 0; i < fleet.size(); ++i) {
    roles.push_back(fleet.role(i));
  }
  EXPECT_EQ(std::count(roles.begin(), roles.end(), primary_role), 1) << joined(roles);
  EXPECT_EQ(std::count(roles.begin(), roles.end(), secondary_role), 2) << joined(roles);
  std::size_t primary = 0;
  for (std::size_t i = 0; i < roles.size(); ++i) {
    if (roles[i] == primary_role) {
      primary = i;
    }
  }

  // Wait for a moment between syncs: every recorded start has its command run
  // in the log, and every run has ended.
  std::vector<SyncRun> runs;
  EXPECT_TRUE(wait_until(
      [&] {
        recorder.poll();
        runs = read_sync_log(fleet.sync_log());
        return runs.size() == starts.size() &&
               std::all_of(runs.begin(), runs.end(), [](const SyncRun& r) { return r.end; });
      },
      5s))
      << starts.size() << " recorded starts; runs:\n"
      << describe(runs);
  fleet.stop();
  ASSERT_EQ(runs.size(), starts.size()) << describe(runs);

  // Count: a fleet that syncs once per interval starts at first + k * interval
  // (each a little late, as a timer never fires early), so the window
  // [first, window_end] holds window/interval ± 1 starts.
  const double observed = window_end - first;
  const auto in_window = std::count_if(starts.begin(), starts.end(),
                                       [&](const LastSync& l) { return l.time <= window_end; });
  EXPECT_NEAR(static_cast<double>(in_window), observed / options.interval, 1.0)
      << "window " << observed << " s; runs:\n"
      << describe(runs);

  // Only the primary ran automatic syncs (nothing failed over in this run).
  for (const auto& l : starts) {
    EXPECT_EQ(l.instance, ids[primary]);
  }
  for (const auto& r : runs) {
    EXPECT_EQ(r.label, Fleet::label(primary)) << describe(runs);
  }

  // Cooldown: no two recorded starts closer than sync_cooldown. The records
  // are the hosts' own stamps, exact in JSON; 1 ms covers the host measuring
  // elapsed time on its boot-time clock rather than the wall clock.
  for (std::size_t k = 1; k < starts.size(); ++k) {
    EXPECT_GE(starts[k].time - starts[k - 1].time, options.sync_cooldown - 0.001)
        << "starts " << k - 1 << " and " << k << " are closer than the cooldown\n"
        << describe(runs);
  }
  // No overlap: each command starts after the previous one has ended. Both
  // stamps are the commands' own, and the host starts the next sync only after
  // it has seen the previous command exit, so no tolerance is needed. (The
  // command stamps are not used for the cooldown: they lag the host's record
  // by process start-up and the state file's fsync, which varied by ~0.1 s.)
  for (std::size_t k = 1; k < runs.size(); ++k) {
    EXPECT_GT(runs[k].start, *runs[k - 1].end) << "sync " << k << " overlaps\n" << describe(runs);
  }
}

// --- 2. :HimalayaSyncNow from a secondary ------------------------------------

TEST(AutoSync, SyncNowFromASecondaryRunsOnceAndResetsTheSchedule) {
  FleetOptions options;
  options.interval = 2.5;
  options.sync_cooldown = 1.5;
  Fleet fleet;
  ASSERT_TRUE(fleet.start(3, options));

  // The first automatic sync (the fleet's start-up sync) sets the schedule:
  // the next one would be due at a.time + interval.
  std::optional<LastSync> a;
  ASSERT_TRUE(wait_until([&] { return (a = read_last_sync(fleet.state_file())).has_value(); }, 5s))
      << "no sync was recorded within 5 s";
  std::string primary = fleet.primary_label();
  ASSERT_FALSE(primary.empty()) << "not exactly one primary";
  std::size_t p = static_cast<std::size_t>(std::stoi(primary.substr(4)) - 1);
  std::size_t s = p == 0 ? 1 : 0;
  ASSERT_EQ(fleet.role(s), secondary_role);
  const std::string primary_id = fleet.instance_id(p);
  const std::string secondary_id = fleet.instance_id(s);
  EXPECT_EQ(a->instance, primary_id);

  // Ask the secondary 0.5 s after that start, once that sync has ended (a
  // manual sync is refused while one runs): inside the cooldown (1.5 s), which
  // a manual sync ignores (SPEC §4), and 2 s before the old due time.
  std::vector<SyncRun> runs;
  ASSERT_TRUE(wait_until(
      [&] {
        runs = read_sync_log(fleet.sync_log());
        return !runs.empty() && runs[0].end;
      },
      5s))
      << describe(runs);
  sleep_until_wall(a->time + 0.5);
  const double asked = wall_now();
  fleet.nvim(s).lua("vim.cmd('HimalayaSyncNow')");

  // The manual sync is recorded as the secondary's, at once.
  std::optional<LastSync> m;
  ASSERT_TRUE(wait_until(
      [&] {
        m = read_last_sync(fleet.state_file());
        return m && m->time != a->time;
      },
      3s))
      << "the manual sync was not recorded within 3 s";
  EXPECT_EQ(m->instance, secondary_id);
  EXPECT_GE(m->time, asked);
  EXPECT_LT(m->time - a->time, options.sync_cooldown)
      << "the manual sync was not inside the cooldown";

  // The next automatic sync is due at m + interval, not at a + interval.
  std::optional<LastSync> n;
  ASSERT_TRUE(wait_until(
      [&] {
        n = read_last_sync(fleet.state_file());
        return n && n->time != m->time;
      },
      std::chrono::milliseconds(static_cast<int>(options.interval * 1000) + 3000)))
      << "no automatic sync after the manual one";
  EXPECT_EQ(n->instance, primary_id);
  // Host stamps are exact (JSON keeps every bit of a double); 1 ms is for the
  // host's own arithmetic across its clocks.
  EXPECT_GE(n->time - m->time, options.interval - 0.001)
      << "the automatic sync came " << n->time - m->time << " s after the manual one";

  // The commands that ran: after the first sync, exactly one by the secondary
  // (the manual one), then the primary's next automatic one.
  ASSERT_TRUE(wait_until(
      [&] {
        runs = read_sync_log(fleet.sync_log());
        return runs.size() >= 3 && runs[2].end;
      },
      5s))
      << describe(runs);
  ASSERT_EQ(runs.size(), 3u) << describe(runs);
  EXPECT_EQ(runs[0].label, primary) << describe(runs);
  EXPECT_EQ(runs[1].label, Fleet::label(s)) << describe(runs);
  EXPECT_EQ(runs[2].label, primary) << describe(runs);
  EXPECT_GE(runs[1].start, asked) << describe(runs);
  EXPECT_GT(runs[1].start, *runs[0].end) << describe(runs);
  EXPECT_GT(runs[2].start, *runs[1].end) << describe(runs);
  EXPECT_EQ(fleet.role(s), secondary_role);
  EXPECT_EQ(fleet.role(p), primary_role);
}

// --- 3. Notifications: debug mode and normal mode ----------------------------

// Runs a fleet of `count` until `syncs` automatic syncs have ended, and
// returns each instance's notes. `primary` gets the primary's index.
std::vector<std::vector<Note>> notes_after_syncs(Fleet& fleet, int count,
                                                 const FleetOptions& options, std::size_t syncs,
                                                 std::size_t& primary) {
  if (!fleet.start(count, options)) {
    return {};
  }
  std::vector<SyncRun> runs;
  EXPECT_TRUE(wait_until(
      [&] {
        runs = read_sync_log(fleet.sync_log());
        return runs.size() >= syncs && runs[syncs - 1].end;
      },
      std::chrono::milliseconds(static_cast<int>(std::max(options.interval, options.sync_cooldown) *
                                                 1000 * static_cast<double>(syncs + 3)))))
      << describe(runs);
  std::string label = fleet.primary_label();
  EXPECT_FALSE(label.empty()) << "not exactly one primary";
  primary = label.empty() ? fleet.size() : static_cast<std::size_t>(std::stoi(label.substr(4)) - 1);
  std::vector<std::vector<Note>> notes;
  for (std::size_t i = 0; i < fleet.size(); ++i) {
    notes.push_back(fleet.notes(i));
  }
  return notes;
}

bool mentions(const std::vector<Note>& notes, const std::string& text) {
  return std::any_of(notes.begin(), notes.end(),
                     [&](const Note& n) { return n.message.find(text) != std::string::npos; });
}

// SPEC §6: debug mode shows, at DEBUG/INFO level through vim.notify, which
// instance is primary, role changes and each sync decision.
TEST(AutoSync, DebugModeOnThePrimaryShowsItsRoleAndEachSync) {
  FleetOptions options;
  options.debug = true;
  Fleet fleet;
  std::size_t primary = 0;
  auto notes = notes_after_syncs(fleet, 3, options, 3, primary);
  ASSERT_EQ(notes.size(), 3u);
  ASSERT_LT(primary, notes.size());
  const std::string primary_id = fleet.instance_id(primary);
  for (std::size_t i = 0; i < notes.size(); ++i) {
    SCOPED_TRACE(Fleet::label(i) + "\n" + describe(notes[i]));
    for (const auto& n : notes[i]) {
      EXPECT_TRUE(n.level == level_debug || n.level == level_info) << n.message;
      EXPECT_EQ(n.message.rfind("himalaya-coord: ", 0), 0u) << n.message;
    }
  }
  SCOPED_TRACE("primary " + Fleet::label(primary) + "\n" + describe(notes[primary]));
  EXPECT_TRUE(mentions(notes[primary], primary_id + " becomes primary"));
  EXPECT_TRUE(mentions(notes[primary], "-> Primary Coordinator"));
  EXPECT_TRUE(mentions(notes[primary], "sync due: "));
  EXPECT_TRUE(mentions(notes[primary], "sync started: first sync"));
  EXPECT_TRUE(mentions(notes[primary], "sync started: scheduled sync"));
  EXPECT_TRUE(mentions(notes[primary], "sync ended: ok"));
}

// SPEC §6 again, on the secondaries: which instance is primary, and their
// decisions not to sync ("skipped as secondary").
TEST(AutoSync, DebugModeOnASecondaryShowsThePrimaryAndItsSkips) {
  FleetOptions options;
  options.debug = true;
  Fleet fleet;
  std::size_t primary = 0;
  auto notes = notes_after_syncs(fleet, 3, options, 3, primary);
  ASSERT_EQ(notes.size(), 3u);
  ASSERT_LT(primary, notes.size());
  const std::string primary_id = fleet.instance_id(primary);
  for (std::size_t i = 0; i < notes.size(); ++i) {
    if (i == primary) {
      continue;
    }
    SCOPED_TRACE("secondary " + Fleet::label(i) + "\n" + describe(notes[i]));
    for (const auto& n : notes[i]) {
      EXPECT_TRUE(n.level == level_debug || n.level == level_info) << n.message;
    }
    EXPECT_TRUE(mentions(notes[i], primary_id)) << "does not say which instance is primary";
    EXPECT_TRUE(mentions(notes[i], "skipped as secondary"));
    EXPECT_FALSE(mentions(notes[i], "sync started"));
  }
}

// A cooldown longer than the interval (0.4 s): an automatic sync is due one
// interval after the last start, but the cooldown holds it back (SPEC §5).
FleetOptions cooldown_over_interval() {
  FleetOptions options;
  options.interval = 0.4;
  options.sync_cooldown = 1.0;
  return options;
}

// SPEC §5 Cooldown: the syncs are spaced by the cooldown, not the interval,
// and start as soon as the cooldown is over.
TEST(AutoSync, CooldownLongerThanTheIntervalSpacesTheSyncs) {
  FleetOptions options = cooldown_over_interval();
  Fleet fleet;
  StartRecorder recorder(fleet.state_file());
  ASSERT_TRUE(fleet.start(2, options));
  ASSERT_TRUE(wait_until(
      [&] {
        recorder.poll();
        return recorder.starts().size() >= 4;
      },
      10s))
      << recorder.starts().size() << " syncs";
  const auto& starts = recorder.starts();
  for (std::size_t k = 1; k < starts.size(); ++k) {
    double gap = starts[k].time - starts[k - 1].time;
    // Host stamps, exact in JSON; 1 ms for the host's clock arithmetic.
    EXPECT_GE(gap, options.sync_cooldown - 0.001) << "start " << k;
    // Due since 0.6 s when the cooldown ends; it must not wait another interval.
    EXPECT_LT(gap, options.sync_cooldown + options.interval) << "start " << k;
  }
}

// SPEC §6: debug mode shows a sync skipped for cooldown, and the cooldown left.
TEST(AutoSync, DebugModeShowsASyncSkippedForCooldown) {
  FleetOptions options = cooldown_over_interval();
  options.debug = true;
  Fleet fleet;
  std::size_t primary = 0;
  auto notes = notes_after_syncs(fleet, 2, options, 3, primary);
  ASSERT_EQ(notes.size(), 2u);
  ASSERT_LT(primary, notes.size());
  SCOPED_TRACE("primary " + Fleet::label(primary) + "\n" + describe(notes[primary]));
  EXPECT_TRUE(mentions(notes[primary], "skipped for cooldown"));
  EXPECT_TRUE(mentions(notes[primary], " left"));
}

TEST(AutoSync, NormalModeShowsNoNotificationsWhileSyncsSucceed) {
  FleetOptions options;  // debug = false
  Fleet fleet;
  std::size_t primary = 0;
  auto notes = notes_after_syncs(fleet, 3, options, 3, primary);
  ASSERT_EQ(notes.size(), 3u);
  for (std::size_t i = 0; i < notes.size(); ++i) {
    EXPECT_TRUE(notes[i].empty()) << Fleet::label(i) << "\n" << describe(notes[i]);
  }
}

// --- 4. A failing command shows one warning ----------------------------------

TEST(AutoSync, FailingCommandShowsExactlyOneWarning) {
  FleetOptions options;
  options.interval = 0.5;
  options.sync_cooldown = 0.4;
  Fleet fleet;
  const std::filesystem::path attempts = fleet.shared_dir() / "attempts";
  options.command =
      "{'/bin/sh', '-c', " +
      lua_quote("echo x >> '" + attempts.string() + "'; echo 'Error: boom' >&2; exit 1") + "}";
  ASSERT_TRUE(fleet.start(3, options));

  auto count_attempts = [&] {
    std::ifstream in(attempts);
    std::size_t lines = 0;
    std::string line;
    while (std::getline(in, line)) {
      ++lines;
    }
    return lines;
  };
  // Six attempts: the fifth failure was reported (if at all) about one
  // interval before the sixth starts, so at least five failures are in.
  constexpr std::size_t wanted = 6;
  ASSERT_TRUE(wait_until(
      [&] { return count_attempts() >= wanted; },
      std::chrono::milliseconds(static_cast<int>(options.interval * 1000 * (wanted + 4)))))
      << "only " << count_attempts() << " attempts";

  std::vector<Note> all;
  std::string primary = fleet.primary_label();
  for (std::size_t i = 0; i < fleet.size(); ++i) {
    for (auto& n : fleet.notes(i)) {
      n.message = Fleet::label(i) + ": " + n.message;
      all.push_back(n);
    }
  }
  ASSERT_EQ(all.size(), 1u) << count_attempts() << " attempts; notes:\n" << describe(all);
  EXPECT_EQ(all[0].level, level_warn);
  EXPECT_EQ(all[0].message.rfind(primary + ": ", 0), 0u) << describe(all);
  EXPECT_NE(all[0].message.find("sync failed"), std::string::npos) << all[0].message;
  EXPECT_NE(all[0].message.find("boom"), std::string::npos) << all[0].message;
}

// --- 5. The status report of each instance -----------------------------------

TEST(AutoSync, StatusReportOfEachInstance) {
  FleetOptions options;
  Fleet fleet;
  ASSERT_TRUE(fleet.start(3, options));
  std::vector<std::string> ids;
  for (std::size_t i = 0; i < fleet.size(); ++i) {
    ids.push_back(fleet.instance_id(i));
  }

  // Once every instance has registered and the start-up sync has run, every
  // report lists the three instances and the last sync.
  std::vector<std::vector<std::string>> reports(fleet.size());
  auto settled = [&](std::size_t i) {
    reports[i] = fleet.status_lines(i);
    std::string text = joined(reports[i]);
    return text.find("  By Instance: ") != std::string::npos &&
           std::all_of(ids.begin(), ids.end(), [&](const std::string& id) {
             return text.find("\n  " + id + "  ") != std::string::npos;
           });
  };
  for (std::size_t i = 0; i < fleet.size(); ++i) {
    EXPECT_TRUE(wait_until([&] { return settled(i); }, 5s)) << joined(reports[i]);
  }

  const std::regex age(R"(  Last Heartbeat: \d+ seconds? ago)");
  const std::regex last_sync(R"(  Last Sync: \d+ seconds? ago)");
  const std::regex cooldown(R"(  Cooldown: (Ready|\d+ seconds? remaining))");
  const std::regex interval(R"(  Interval: \d+ seconds?)");
  int primaries = 0;
  std::string primary_id;
  std::string primary_pid;
  for (std::size_t i = 0; i < fleet.size(); ++i) {
    const auto& r = reports[i];
    SCOPED_TRACE(Fleet::label(i) + "\n" + joined(r));
    ASSERT_GE(r.size(), 17u);
    EXPECT_EQ(r[0], "# Himalaya Sync Coordination Status");
    EXPECT_EQ(r[1], "");
    EXPECT_EQ(r[2], "## Current Instance");
    EXPECT_EQ(r[3], "  Instance ID: " + ids[i]);
    EXPECT_TRUE(r[4] == "  Role: Primary Coordinator" || r[4] == "  Role: Secondary");
    EXPECT_EQ(r[5], "  PID: " + std::to_string(fleet.nvim(i).pid()));
    EXPECT_EQ(r[6], "");
    EXPECT_EQ(r[7], "## Primary Coordinator");
    EXPECT_EQ(r[8].rfind("  Instance: nvim_", 0), 0u);
    EXPECT_EQ(r[9].rfind("  PID: ", 0), 0u);
    EXPECT_TRUE(std::regex_match(r[10], age));
    EXPECT_EQ(r[11], "  Status: Active");
    EXPECT_EQ(r[12], "");
    EXPECT_EQ(r[13], "## Sync History");
    EXPECT_TRUE(std::regex_match(r[14], last_sync));
    EXPECT_EQ(r[15].rfind("  By Instance: nvim_", 0), 0u);
    EXPECT_TRUE(std::regex_match(r[16], cooldown));
    ASSERT_GE(r.size(), 18u);
    EXPECT_TRUE(std::regex_match(r[17], interval)) << "the fixed interval, with no policy named";
    if (r[4] == "  Role: Primary Coordinator") {
      ++primaries;
      EXPECT_EQ(r[8], "  Instance: " + ids[i]);
      EXPECT_EQ(r[9], "  PID: " + std::to_string(fleet.nvim(i).pid()));
      primary_id = ids[i];
      primary_pid = std::to_string(fleet.nvim(i).pid());
    }
    // ## Instances lists each of the three once.
    auto section = std::find(r.begin(), r.end(), "## Instances");
    ASSERT_NE(section, r.end());
    std::size_t listed = 0;
    for (auto line = section + 1; line != r.end() && !line->empty(); ++line) {
      ++listed;
    }
    EXPECT_EQ(listed, 3u);
  }
  EXPECT_EQ(primaries, 1);
  // Everyone names the same primary and the same last syncer.
  for (std::size_t i = 0; i < fleet.size(); ++i) {
    EXPECT_EQ(reports[i][8], "  Instance: " + primary_id) << Fleet::label(i);
    EXPECT_EQ(reports[i][9], "  PID: " + primary_pid) << Fleet::label(i);
    EXPECT_EQ(reports[i][15], "  By Instance: " + primary_id) << Fleet::label(i);
  }
}

}  // namespace
}  // namespace himalaya::e2e
