// coord-sim: a fleet of coordinators over simulated days (SPEC §13).
//
//   coord-sim [--seed S] [--instances N] [--days D] [--no-churn] [--no-faults]
//             [--mail-per-hour R] [--manual-per-day R] [--push] [--trace]
//             [--seeds K] [--mail poisson|flat|bursty] [--interval S]
//             [--adaptive] [--min-interval S] [--max-interval S] [--warmup D]
//             [--compare-adaptive] [--first-come] [--wake-jitter S]
//             [--compare-succession]
//             [--users] [--away-off] [--away] [--channels] [--max-parallel N]
//             [--arrivals R] [--push]
//
// --users: users type at work and are away nights and weekends (sim/users.h);
// --away-off: with sync.away.after = false. --away: the same run with away on
// and off, one row each (syncs per week, in away time, catch-up delays).
// Prints the report (sim/fleet.h) and exits 1 if an invariant broke, with the
// command that replays the failing run. --seeds K runs seeds S..S+K-1 and
// prints one line per failing seed and a summary. --trace prints every event
// (the same seed and options give the same bytes). --adaptive turns
// sync.adaptive on; --compare-adaptive runs it and then the fixed interval at
// the same number of automatic syncs (sim/compare.h), for each seed, and
// prints both rows (with several seeds, also the medians). --first-come runs
// the baseline succession rule (election.h); --wake-jitter S makes each
// editor wake up to S seconds after the state file's doorbell or a watched
// exit (World::set_wake_jitter); --compare-succession runs K seeds (--seeds,
// default 10) under both rules and prints role changes per day.
// --channels runs sim/channel_fleet.h instead (six channels over up to
// --instances editor slots, default 8, for --days, default 7), for each seed
// (--seeds), with --no-faults, --max-parallel N (default 2) and --trace; it prints each channel's
// syncs against T/interval, the moves per day and the IMAP logins against `mbsync -a` every 2
// minutes. --arrivals R delivers mail to each channel's mailboxes R times an hour (Poisson) and
// reports how long it waits for its channel's sync; --push turns push on for it.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "sim/channel_fleet.h"
#include "sim/compare.h"
#include "sim/fleet.h"
#include "sim/succession.h"

namespace {

int usage(const char* why) {
  std::cerr << "coord-sim: " << why << "\n"
            << "usage: coord-sim [--seed S] [--instances N] [--days D] [--no-churn] "
               "[--no-faults] [--mail-per-hour R] [--manual-per-day R] [--push] [--trace] "
               "[--seeds K] [--mail poisson|flat|bursty] [--interval S] [--adaptive] "
               "[--min-interval S] [--max-interval S] [--warmup D] [--compare-adaptive] "
               "[--first-come] [--wake-jitter S] [--compare-succession] "
               "[--users] [--away-off] [--away] [--channels] [--max-parallel N] "
               "[--arrivals R] [--push]\n";
  return 2;
}

bool number(const char* text, double& out) {
  char* end = nullptr;
  out = std::strtod(text, &end);
  return end != text && *end == '\0' && out >= 0;
}

// --compare-adaptive: each seed's two rows; with several seeds, the medians.
int compare_seeds(himalaya::sim::Options o, int seeds) {
  using himalaya::sim::Comparison;
  std::vector<double> ratios;
  std::vector<double> ratios_p95;
  bool broken = false;
  const std::uint64_t first = o.seed;
  for (int k = 0; k < seeds; ++k) {
    o.seed = first + static_cast<std::uint64_t>(k);
    const Comparison c = himalaya::sim::compare_adaptive(o);
    himalaya::sim::print_comparison(std::cout, o, c);
    broken = broken || !c.adaptive.violations.empty() || !c.fixed.violations.empty();
    if (c.fixed.mean_start > 0 && c.fixed.p95_start > 0) {
      ratios.push_back(c.adaptive.mean_start / c.fixed.mean_start);
      ratios_p95.push_back(c.adaptive.p95_start / c.fixed.p95_start);
    }
  }
  if (seeds > 1 && !ratios.empty()) {
    std::printf("median over %d seeds, adaptive / fixed: mean delay %.2f, p95 delay %.2f\n", seeds,
                himalaya::sim::percentile(ratios, 0.5), himalaya::sim::percentile(ratios_p95, 0.5));
  }
  return broken ? 1 : 0;
}

// --channels: sim/channel_fleet.h for each seed.
int channel_seeds(const himalaya::sim::Options& o, bool instances_given, bool days_given,
                  int max_parallel, double arrivals, int seeds) {
  himalaya::sim::ChannelOptions c;
  c.arrivals_per_hour = arrivals;
  c.push = o.push;
  c.channels.max_parallel = max_parallel > 0 ? max_parallel : c.channels.max_parallel;
  c.slots = instances_given ? o.instances : c.slots;
  c.days = days_given ? o.days : c.days;
  c.faults = o.faults;
  c.trace = o.trace;
  int failed = 0;
  for (int k = 0; k < seeds; ++k) {
    c.seed = o.seed + static_cast<std::uint64_t>(k);
    const auto report = himalaya::sim::simulate_channels(c);
    himalaya::sim::print_channel_report(std::cout, c, report);
    if (!report.violations.empty()) {
      ++failed;
      std::cout << "FAILED; replay: coord-sim --channels --seed " << c.seed << " --instances "
                << c.slots << " --days " << c.days << " --max-parallel " << c.channels.max_parallel
                << (c.faults ? "" : " --no-faults")
                << (c.arrivals_per_hour > 0 ? " --arrivals " + std::to_string(c.arrivals_per_hour)
                                            : "")
                << (c.push ? " --push" : "") << " --trace\n";
    }
  }
  return failed == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  himalaya::sim::Options o;
  double seeds = 1;
  bool trace = false;
  bool compare = false;
  bool compare_rules = false;
  bool compare_away = false;
  bool channels = false;
  int max_parallel = 0;
  double arrivals = 0;
  bool instances_given = false;
  bool days_given = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    double v = 0;
    auto value = [&]() -> bool { return i + 1 < argc && number(argv[++i], v); };
    if (arg == "--seed" && value()) {
      o.seed = static_cast<std::uint64_t>(v);
    } else if (arg == "--instances" && value()) {
      o.instances = static_cast<int>(v);
      instances_given = true;
    } else if (arg == "--days" && value() && v > 0) {
      o.days = v;
      days_given = true;
    } else if (arg == "--mail-per-hour" && value()) {
      o.mail_per_hour = v;
    } else if (arg == "--manual-per-day" && value()) {
      o.manual_per_day = v;
    } else if (arg == "--seeds" && value() && v >= 1) {
      seeds = v;
    } else if (arg == "--mail" && i + 1 < argc && himalaya::sim::mail_trace_from(argv[i + 1])) {
      o.mail = *himalaya::sim::mail_trace_from(argv[++i]);
    } else if (arg == "--interval" && value() && v > 0) {
      o.timings.interval = v;
    } else if (arg == "--min-interval" && value() && v > 0) {
      o.timings.adaptive.min_interval = v;
    } else if (arg == "--max-interval" && value() && v > 0) {
      o.timings.adaptive.max_interval = v;
    } else if (arg == "--warmup" && value()) {
      o.warmup_days = v;
    } else if (arg == "--adaptive") {
      o.timings.adaptive.enabled = true;
    } else if (arg == "--compare-adaptive") {
      compare = true;
    } else if (arg == "--no-churn") {
      o.churn = false;
    } else if (arg == "--no-faults") {
      o.faults = false;
    } else if (arg == "--push") {
      o.push = true;
    } else if (arg == "--wake-jitter" && value()) {
      o.wake_jitter = v;
    } else if (arg == "--first-come") {
      o.succession = himalaya::coordinator::Succession::first_come;
    } else if (arg == "--compare-succession") {
      compare_rules = true;
    } else if (arg == "--users") {
      o.users = true;
    } else if (arg == "--away-off") {
      o.timings.away_after = 0;
    } else if (arg == "--away") {
      o.users = true;
      compare_away = true;
    } else if (arg == "--channels") {
      channels = true;
    } else if (arg == "--max-parallel" && value() && v >= 1) {
      max_parallel = static_cast<int>(v);
    } else if (arg == "--arrivals" && value() && v > 0) {
      arrivals = v;
    } else if (arg == "--trace") {
      trace = true;
    } else {
      return usage(("bad argument: " + arg).c_str());
    }
  }
  if (trace) {
    o.trace = &std::cout;
  }
  if (channels) {
    return channel_seeds(o, instances_given, days_given, max_parallel, arrivals,
                         static_cast<int>(seeds));
  }
  if (compare_away) {
    int failed = 0;
    for (double after : {o.timings.away_after > 0 ? o.timings.away_after : 900.0, 0.0}) {
      o.timings.away_after = after;
      const auto report = himalaya::sim::simulate(o);
      std::cout << himalaya::sim::away_row(o, report) << '\n';
      for (const std::string& v : report.violations) {
        ++failed;
        std::cout << "VIOLATION " << v << '\n';
      }
    }
    return failed == 0 ? 0 : 1;
  }
  if (o.warmup_days >= o.days) {
    return usage("--warmup must be shorter than --days");
  }
  if (compare) {
    return compare_seeds(o, static_cast<int>(seeds));
  }
  if (compare_rules) {
    const int runs = seeds > 1 ? static_cast<int>(seeds) : 10;
    return himalaya::sim::compare_succession(std::cout, o, runs) ? 0 : 1;
  }
  if (seeds == 1) {
    const auto report = himalaya::sim::simulate(o);
    himalaya::sim::print_report(std::cout, o, report);
    if (!report.violations.empty()) {
      std::cout << "FAILED; replay: " << himalaya::sim::replay_command(o) << " --trace\n";
      return 1;
    }
    return 0;
  }
  int failed = 0;
  const std::uint64_t first = o.seed;
  for (std::uint64_t s = first; s < first + static_cast<std::uint64_t>(seeds); ++s) {
    o.seed = s;
    const auto report = himalaya::sim::simulate(o);
    if (!report.violations.empty()) {
      ++failed;
      std::cout << "seed " << s << " FAILED: " << report.violations.front()
                << "\n  replay: " << himalaya::sim::replay_command(o) << " --trace\n";
    }
  }
  std::cout << static_cast<long long>(seeds) - failed << " of " << static_cast<long long>(seeds)
            << " seeds passed\n";
  return failed == 0 ? 0 : 1;
}
