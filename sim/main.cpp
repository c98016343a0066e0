// coord-sim: a fleet of coordinators over simulated days (SPEC §13).
//
//   coord-sim [--seed S] [--instances N] [--days D] [--no-churn] [--no-faults]
//             [--mail-per-hour R] [--manual-per-day R] [--push] [--trace]
//             [--seeds K]
//
// Prints the report (sim/fleet.h) and exits 1 if an invariant broke, with the
// command that replays the failing run. --seeds K runs seeds S..S+K-1 and
// prints one line per failing seed and a summary. --trace prints every event
// (the same seed and options give the same bytes).
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

#include "sim/fleet.h"

namespace {

int usage(const char* why) {
  std::cerr << "coord-sim: " << why << "\n"
            << "usage: coord-sim [--seed S] [--instances N] [--days D] [--no-churn] "
               "[--no-faults] [--mail-per-hour R] [--manual-per-day R] [--push] [--trace] "
               "[--seeds K]\n";
  return 2;
}

bool number(const char* text, double& out) {
  char* end = nullptr;
  out = std::strtod(text, &end);
  return end != text && *end == '\0' && out >= 0;
}

}  // namespace

int main(int argc, char** argv) {
  himalaya::sim::Options o;
  double seeds = 1;
  bool trace = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    double v = 0;
    auto value = [&]() -> bool { return i + 1 < argc && number(argv[++i], v); };
    if (arg == "--seed" && value()) {
      o.seed = static_cast<std::uint64_t>(v);
    } else if (arg == "--instances" && value()) {
      o.instances = static_cast<int>(v);
    } else if (arg == "--days" && value() && v > 0) {
      o.days = v;
    } else if (arg == "--mail-per-hour" && value()) {
      o.mail_per_hour = v;
    } else if (arg == "--manual-per-day" && value()) {
      o.manual_per_day = v;
    } else if (arg == "--seeds" && value() && v >= 1) {
      seeds = v;
    } else if (arg == "--no-churn") {
      o.churn = false;
    } else if (arg == "--no-faults") {
      o.faults = false;
    } else if (arg == "--push") {
      o.push = true;
    } else if (arg == "--trace") {
      trace = true;
    } else {
      return usage(("bad argument: " + arg).c_str());
    }
  }
  if (trace) {
    o.trace = &std::cout;
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
