#include "sim/succession.h"

#include <algorithm>
#include <cstdio>
#include <vector>

namespace himalaya::sim {

bool compare_succession(std::ostream& out, const Options& base, int seeds) {
  using coordinator::Succession;
  struct Row {
    Succession rule;
    std::vector<double> per_day;
    std::vector<double> handovers;  // per day: role changes with a choice of successor
  };
  std::vector<Row> rows{{Succession::first_come, {}, {}}, {Succession::senior, {}, {}}};
  bool clean = true;
  double opened = 0;
  for (Row& row : rows) {
    for (int i = 0; i < seeds; ++i) {
      Options o = base;
      o.seed = base.seed + static_cast<std::uint64_t>(i);
      o.succession = row.rule;
      // Who looks first after a change is random, as with real processes;
      // without this, the first to look is the longest-running watcher.
      o.wake_jitter = std::max(o.wake_jitter, 0.005);
      const Report r = simulate(o);
      if (!r.violations.empty()) {
        clean = false;
        out << "seed " << o.seed << " (" << coordinator::to_string(row.rule)
            << ") FAILED: " << r.violations.front() << "\n  replay: " << replay_command(o)
            << " --trace\n";
      }
      row.per_day.push_back(static_cast<double>(r.role_changes) / o.days);
      row.handovers.push_back(static_cast<double>(r.role_changes - r.lone_primaries) / o.days);
      opened += row.rule == Succession::senior ? static_cast<double>(r.editors_opened) / o.days : 0;
    }
  }
  char line[256];
  std::snprintf(line, sizeof line,
                "succession over %d seed(s) of %g day(s), %d editor slots, about %.0f editors "
                "opened per day:\n",
                seeds, base.days, base.instances, opened / seeds);
  out << line;
  for (const Row& row : rows) {
    std::snprintf(line, sizeof line,
                  "  %-10s role changes per day: median %.1f, p90 %.1f; of them handovers (another "
                  "editor was open): median %.1f\n",
                  coordinator::to_string(row.rule), percentile(row.per_day, 0.5),
                  percentile(row.per_day, 0.9), percentile(row.handovers, 0.5));
    out << line;
  }
  const double baseline = percentile(rows[0].per_day, 0.5);
  const double senior = percentile(rows[1].per_day, 0.5);
  const double baseline_handovers = percentile(rows[0].handovers, 0.5);
  const double senior_handovers = percentile(rows[1].handovers, 0.5);
  if (baseline > 0 && baseline_handovers > 0) {
    std::snprintf(line, sizeof line,
                  "  seniority cuts the median role changes per day by %.0f%% (%.2fx of "
                  "first-come), and the handovers by %.0f%% (%.2fx)\n",
                  100 * (1 - senior / baseline), senior / baseline,
                  100 * (1 - senior_handovers / baseline_handovers),
                  senior_handovers / baseline_handovers);
    out << line;
  }
  return clean;
}

}  // namespace himalaya::sim
