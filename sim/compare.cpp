#include "sim/compare.h"

#include <algorithm>
#include <cstdio>
#include <numeric>

namespace himalaya::sim {
namespace {

double mean(const std::vector<double>& v) {
  return v.empty() ? 0 : std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
}

ScheduleRow row_of(const Report& r) {
  ScheduleRow row;
  row.automatic_syncs = r.measured_automatic_syncs;
  row.messages = r.mail_start_delays.size();
  row.mean_start = mean(r.mail_start_delays);
  row.p95_start = percentile(r.mail_start_delays, 0.95);
  row.mean_end = mean(r.mail_delays);
  row.p95_end = percentile(r.mail_delays, 0.95);
  row.violations = r.violations;
  return row;
}

}  // namespace

Comparison compare_adaptive(const Options& options) {
  Comparison c;
  Options a = options;
  a.timings.adaptive.enabled = true;
  c.adaptive = row_of(simulate(a));
  Options f = options;
  f.timings.adaptive.enabled = false;
  const double measured = (options.days - options.warmup_days) * 86400;
  f.timings.interval =
      measured / static_cast<double>(std::max<std::uint64_t>(1, c.adaptive.automatic_syncs));
  c.fixed = row_of(simulate(f));
  c.fixed.interval = f.timings.interval;
  return c;
}

void print_comparison(std::ostream& out, const Options& o, const Comparison& c) {
  char line[256];
  std::snprintf(line, sizeof line,
                "compare-adaptive: %s mail, %g per hour, %g day(s) measured after %g of warm-up, "
                "seed %llu\n",
                to_string(o.mail), o.mail_per_hour, o.days - o.warmup_days, o.warmup_days,
                static_cast<unsigned long long>(o.seed));
  out << line;
  out << "schedule           syncs  messages  mean to start  p95 to start  mean to end  "
         "p95 to end\n";
  auto print = [&](const char* name, const ScheduleRow& r) {
    std::snprintf(line, sizeof line, "%-17s %6llu  %8zu  %11.0f s  %10.0f s  %9.0f s  %8.0f s\n",
                  name, static_cast<unsigned long long>(r.automatic_syncs), r.messages,
                  r.mean_start, r.p95_start, r.mean_end, r.p95_end);
    out << line;
  };
  print("adaptive", c.adaptive);
  char fixed[64];
  std::snprintf(fixed, sizeof fixed, "fixed %.0f s", c.fixed.interval);
  print(fixed, c.fixed);
  const double ratio = c.fixed.mean_start > 0 ? c.adaptive.mean_start / c.fixed.mean_start : 0;
  std::snprintf(line, sizeof line, "adaptive / fixed mean delay to start: %.2f\n", ratio);
  out << line;
  for (const std::string& v : c.adaptive.violations) {
    out << "VIOLATION (adaptive) " << v << '\n';
  }
  for (const std::string& v : c.fixed.violations) {
    out << "VIOLATION (fixed) " << v << '\n';
  }
}

}  // namespace himalaya::sim
