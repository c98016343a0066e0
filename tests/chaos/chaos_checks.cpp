#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/chaos/chaos.h"
#include "tests/chaos/chaos_records.h"
#include "tests/support/clock.h"
#include "tests/support/files.h"
#include "tests/support/shared_state.h"
#include "tests/support/wait.h"

namespace himalaya::chaos {

using testing::mono_now;
using testing::process_gone;
using testing::wait_until;
using testing::wall_now;
using namespace std::chrono_literals;

// Invariant (c), after a quiet stretch of one takeover_threshold.
void Chaos::checkpoint(const std::string& why) {
  for (auto& inst : live_) {
    if (inst->stopped) {
      resume(*inst);
    }
  }
  wait_restarts();
  // A host that the test did not kill must still be the one it knows.
  for (auto& inst : live_) {
    const pid_t pid = fleet_.query_host_pid(inst->index);
    if (pid != inst->host_pid) {
      ++unexpected_host_exits_;
      violation(inst->label() + ": host " + std::to_string(inst->host_pid) + " was replaced by " +
                std::to_string(pid) + " without being killed");
      inst->host_pid = pid;
    }
  }
  while (live_.size() < static_cast<std::size_t>(settings_.instances)) {
    if (!inject(Fault::restart)) {
      return;
    }
  }
  event("quiet for " + fixed(timing_.takeover_threshold) + " s (" + why + ")");
  sleep_for_seconds(timing_.takeover_threshold);

  ++checkpoints_;
  const auto before = testing::primary_in_state_file(state_file());
  std::vector<std::string> roles;
  std::vector<pid_t> hosts;
  for (auto& inst : live_) {
    roles.push_back(inst->nvim->lua_string(
        "local s, err = require('himalaya_coord').status(3000) "
        "return s and s.instance and s.instance.role or ('error: ' .. tostring(err))",
        15s));
    hosts.push_back(inst->host_pid);
  }
  const auto after = testing::primary_in_state_file(state_file());

  std::string summary;
  int primaries = 0;
  std::string primary_id;
  for (std::size_t i = 0; i < live_.size(); ++i) {
    summary += " " + live_[i]->label() + "=" + roles[i];
    if (roles[i] == primary_role) {
      ++primaries;
      primary_id = live_[i]->id;
    }
    // The record must not have missed a change: the host's last logged role
    // is the role it reports.
    const std::string logged =
        logged_role(read_role_changes(fleet_.log_file(live_[i]->index)), hosts[i]);
    if (logged != roles[i]) {
      ++record_mismatches_;
      violation(live_[i]->label() + " reports '" + roles[i] + "' but its host " +
                std::to_string(hosts[i]) + " last logged '" + logged + "'");
    }
  }
  summary += "; file: " + (before ? "'" + *before + "'" : std::string("unreadable"));
  event("check:" + summary);
  if (primaries != 1) {
    violation("(c) " + std::to_string(primaries) + " primaries after a quiet stretch:" + summary);
  } else if (!before || !after || *before != primary_id || *after != primary_id) {
    violation("(c) the primary " + primary_id + " is not the file's (before '" +
              before.value_or("?") + "', after '" + after.value_or("?") + "')");
  }
}

void Chaos::shut_down() {
  while (!live_.empty()) {
    clean_exit(*live_.back());
  }
}

// Invariants (a) and (b), on the complete sync log.
void Chaos::check_records() {
  // The hosts are gone; a sync they sent SIGTERM may still be writing its line.
  SyncLog log;
  wait_until(
      [&] {
        log = read_sync_log(sync_log());
        return std::all_of(log.runs.begin(), log.runs.end(),
                           [](const SyncRun& r) { return r.end.has_value(); });
      },
      5s);
  for (const auto& e : log.errors) {
    violation("sync log: " + e);
  }
  double busy_until = 0;
  std::string busy_by;
  double last_stamp = 0;
  int unrecorded = 0;
  int terminated = 0;
  double longest_gap = 0;
  std::string longest_gap_at;
  for (const SyncRun& run : log.runs) {
    const std::string name =
        run.label + "/" + std::to_string(run.pid) + " at " + fixed(run.start - origin_wall_);
    if (!run.end) {
      violation("(a) sync " + name + " never recorded an end");
    }
    if (run.start < busy_until) {
      violation("(a) sync " + name + " started " + fixed((busy_until - run.start) * 1000, 1) +
                " ms before " + busy_by + " ended");
    }
    if (run.end && *run.end > busy_until) {
      busy_until = *run.end;
      busy_by = name;
    }
    terminated += run.terminated ? 1 : 0;
    // The start as the host stamped it. A sync started while its host was
    // Uncoordinated (the state file's lock unavailable, SPEC §5) is not
    // recorded: it finds the previous run's stamp, or none. Its own start
    // line stands in for it; that reading comes after the host's decision,
    // by the command's launch, so it can only make such a gap look longer.
    double stamp = run.start;
    if (run.recorded && *run.recorded > run.start) {
      violation("(b) sync " + name + " found a later start recorded (" +
                fixed(*run.recorded - origin_wall_) + ")");
    } else if (run.recorded && (last_stamp == 0 || *run.recorded > last_stamp)) {
      stamp = *run.recorded;
    } else {
      ++unrecorded;
      event("sync " + name + " was not recorded in the state file");
    }
    if (last_stamp > 0) {
      const double gap = stamp - last_stamp;
      if (gap < timing_.sync_cooldown - 0.001) {
        violation("(b) sync " + name + " started " + fixed(gap) + " s after the previous one");
      }
      if (gap > longest_gap) {
        longest_gap = gap;
        longest_gap_at = name;
      }
    }
    last_stamp = stamp;
  }

  int role_changes = 0;
  int notified_role_changes = 0;
  std::vector<std::string> warnings;
  const std::string role_note = "himalaya-coord: role: ";
  for (const auto* group : {&retired_, &live_}) {
    for (const auto& inst : *group) {
      role_changes += static_cast<int>(read_role_changes(fleet_.log_file(inst->index)).size());
      for (const std::string& line :
           testing::complete_lines(testing::slurp(notes_file(inst->index)))) {
        std::istringstream in(line);
        std::string time;
        std::string level;
        in >> time >> level;
        std::string message;
        std::getline(in, message);
        const std::size_t at = message.find(role_note);
        std::string from;
        std::string to;
        if (at != std::string::npos &&
            parse_role_change(message.substr(at + role_note.size()), from, to)) {
          ++notified_role_changes;
        }
        if (level != "1" && level != "2") {
          warnings.push_back(inst->label() + " [" + level + "]" + message);
        }
      }
    }
  }

  std::printf("\n=== chaos: seed %llu, %.0f s, M = %d ===\n",
              static_cast<unsigned long long>(settings_.seed), settings_.seconds,
              settings_.instances);
  std::printf(
      "timing: interval %g s, sync_cooldown %g s, heartbeat %g s, takeover_threshold %g s, sync "
      "timeout %g s\n",
      timing_.interval, timing_.sync_cooldown, timing_.heartbeat_interval,
      timing_.takeover_threshold, timing_.sync_timeout);
  int total = 0;
  for (Fault f : all_faults) {
    std::printf("faults: %-30s %d\n", fault_name(f), injected_[f]);
    total += injected_[f];
  }
  std::printf("faults: %-30s %d (%d aimed at a sync just started)\n", "total", total, aimed_);
  std::printf(
      "syncs: %zu (%d stopped by SIGTERM, %d stopped before their start line, %d not recorded "
      "in the state file)\n",
      log.runs.size(), terminated, log.terms_before_start, unrecorded);
  std::printf("longest gap between sync starts: %.3f s (before %s)\n", longest_gap,
              longest_gap_at.c_str());
  std::printf("role changes: %d logged by hosts, %d shown by Neovims (debug notifications)\n",
              role_changes, notified_role_changes);
  std::printf("quiet-stretch checks: %d; longest host exit after its Neovim: %.3f s\n",
              checkpoints_, longest_host_exit_);
  std::printf("hosts replaced without being killed: %d\n", unexpected_host_exits_);
  std::printf("warnings shown to users: %zu\n", warnings.size());
  for (std::size_t i = 0; i < warnings.size() && i < 20; ++i) {
    std::printf("  %s\n", warnings[i].c_str());
  }
  std::printf("invariant violations: %zu\n", violations_.size());
  for (const auto& v : violations_) {
    std::printf("  %s\n", v.c_str());
  }
  if (!violations_.empty() || settings_.verbose || ::testing::Test::HasFailure()) {
    std::printf("events (seconds since the start):\n");
    for (const auto& e : events_) {
      std::printf("  %s\n", e.c_str());
    }
    std::printf("syncs (label/pid start .. end):\n");
    for (const SyncRun& run : log.runs) {
      std::printf("  %s/%d %s .. %s%s (host stamp %s)\n", run.label.c_str(), run.pid,
                  fixed(run.start - origin_wall_).c_str(),
                  run.end ? fixed(*run.end - origin_wall_).c_str() : "?",
                  run.terminated ? " term" : "",
                  run.recorded ? fixed(*run.recorded - origin_wall_).c_str() : "none");
    }
  }
  std::fflush(stdout);
  EXPECT_TRUE(violations_.empty()) << violations_.size() << " invariant violations (listed above)";
  EXPECT_GT(log.runs.size(), 0u) << "no sync ran at all";
  EXPECT_EQ(record_mismatches_, 0);
}

}  // namespace himalaya::chaos
