// The report of a simulated run, and the command that replays it (fleet.h).
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "sim/fleet.h"

namespace himalaya::sim {

std::string replay_command(const Options& o) {
  char text[256];
  std::snprintf(text, sizeof text,
                "coord-sim --seed %llu --instances %d --days %g%s%s --mail-per-hour %g "
                "--manual-per-day %g%s",
                static_cast<unsigned long long>(o.seed), o.instances, o.days,
                o.churn ? "" : " --no-churn", o.faults ? "" : " --no-faults", o.mail_per_hour,
                o.manual_per_day, o.push ? " --push" : "");
  return text;
}

double percentile(std::vector<double> values, double p) {
  if (values.empty()) {
    return 0;
  }
  std::sort(values.begin(), values.end());
  const auto i = static_cast<std::size_t>(std::ceil(p * static_cast<double>(values.size()))) - 1;
  return values[std::min(values.size() - 1, i)];
}

void print_report(std::ostream& out, const Options& o, const Report& r) {
  char line[256];
  std::snprintf(line, sizeof line, "simulated: %g day(s), %d editor slot(s), seed %llu\n", o.days,
                o.instances, static_cast<unsigned long long>(o.seed));
  out << line;
  std::snprintf(line, sizeof line,
                "syncs: %llu automatic (%.1f expected at one per interval), %llu push, "
                "%llu manual, %llu uncoordinated\n",
                static_cast<unsigned long long>(r.automatic_syncs), r.expected_syncs,
                static_cast<unsigned long long>(r.push_syncs),
                static_cast<unsigned long long>(r.manual_syncs),
                static_cast<unsigned long long>(r.uncoordinated_syncs));
  out << line;
  std::snprintf(line, sizeof line, "role changes: %llu; editors opened: %llu; faults: %llu\n",
                static_cast<unsigned long long>(r.role_changes),
                static_cast<unsigned long long>(r.editors_opened),
                static_cast<unsigned long long>(r.faults));
  out << line;
  std::snprintf(line, sizeof line, "longest gap between syncs: %.0f s\n", r.longest_gap);
  out << line;
  std::snprintf(line, sizeof line,
                "mail to local: %zu messages, median %.1f s, p99 %.1f s (to the start of the "
                "sync that fetched it: median %.1f s, p99 %.1f s)\n",
                r.mail_delays.size(), percentile(r.mail_delays, 0.5),
                percentile(r.mail_delays, 0.99), percentile(r.mail_start_delays, 0.5),
                percentile(r.mail_start_delays, 0.99));
  out << line;
  std::snprintf(line, sizeof line, "steps: %llu events, %llu state writes\n",
                static_cast<unsigned long long>(r.events),
                static_cast<unsigned long long>(r.writes));
  out << line;
  for (const std::string& v : r.violations) {
    out << "VIOLATION " << v << '\n';
  }
}

}  // namespace himalaya::sim
