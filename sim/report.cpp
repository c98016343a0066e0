// The report of a simulated run, and the command that replays it (fleet.h).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include "sim/fleet.h"

namespace himalaya::sim {

std::string replay_command(const Options& o) {
  char jitter[48] = "";
  if (o.wake_jitter > 0) {
    std::snprintf(jitter, sizeof jitter, " --wake-jitter %g", o.wake_jitter);
  }
  char text[320];
  std::snprintf(text, sizeof text,
                "coord-sim --seed %llu --instances %d --days %g%s%s --mail-per-hour %g "
                "--manual-per-day %g%s%s%s",
                static_cast<unsigned long long>(o.seed), o.instances, o.days,
                o.churn ? "" : " --no-churn", o.faults ? "" : " --no-faults", o.mail_per_hour,
                o.manual_per_day, o.push ? " --push" : "",
                o.succession == coordinator::Succession::first_come ? " --first-come" : "", jitter);
  std::string command = text;
  const coordinator::AdaptiveTimings& a = o.timings.adaptive;
  if (o.mail != MailTrace::poisson) {
    command += std::string(" --mail ") + to_string(o.mail);
  }
  if (o.timings.interval != coordinator::Timings{}.interval) {
    char more[48];
    std::snprintf(more, sizeof more, " --interval %g", o.timings.interval);
    command += more;
  }
  if (a.enabled) {
    char more[96];
    std::snprintf(more, sizeof more, " --adaptive --min-interval %g --max-interval %g",
                  a.min_interval, a.max_interval);
    command += more;
  }
  if (o.warmup_days > 0) {
    char more[32];
    std::snprintf(more, sizeof more, " --warmup %g", o.warmup_days);
    command += more;
  }
  if (o.users) {
    command += o.timings.away_after <= 0 ? " --users --away-off" : " --users";
  }
  return command;
}

double percentile(std::vector<double> values, double p) {
  if (values.empty()) {
    return 0;
  }
  std::sort(values.begin(), values.end());
  const auto i = static_cast<std::size_t>(std::ceil(p * static_cast<double>(values.size()))) - 1;
  return values[std::min(values.size() - 1, i)];
}

std::string away_row(const Options& o, const Report& r) {
  const UserReport& u = r.users;
  const double weeks = o.days / 7;
  char line[320];
  std::snprintf(line, sizeof line,
                "away %-3s: %.0f automatic syncs per week, %.0f of them in away time (%.0f h of "
                "%.0f h); %llu returns, %zu catch-up syncs owed, delay median %.3f s, max %.3f s",
                o.timings.away_after > 0 ? "on" : "off", static_cast<double>(u.syncs) / weeks,
                static_cast<double>(u.away_syncs) / weeks, u.away_seconds / 3600 / weeks,
                o.days * 24 / weeks, static_cast<unsigned long long>(u.returns),
                u.catch_up_delays.size(), percentile(u.catch_up_delays, 0.5),
                percentile(u.catch_up_delays, 1.0));
  return line;
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
  if (o.users) {
    out << away_row(o, r) << '\n';
  }
  for (const std::string& v : r.violations) {
    out << "VIOLATION " << v << '\n';
  }
}

}  // namespace himalaya::sim
