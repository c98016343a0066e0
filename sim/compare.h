// The adaptive schedule against the fixed interval at the same number of
// syncs (sync.adaptive, SPEC §11): coord-sim --compare-adaptive.
//
// One seed: run the options with sync.adaptive on and count its automatic
// syncs after the warm-up; then run the same seed (the same mail: give a
// trace of its own, flat or bursty) with adaptive off and
// sync.interval = measured time / that count. Each row gives the delay from a
// message's arrival to the start and to the end of the sync that fetched it.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "sim/fleet.h"

namespace himalaya::sim {

struct ScheduleRow {
  std::uint64_t automatic_syncs = 0;  // after the warm-up
  double interval = 0;                // the fixed row's interval; 0 for adaptive
  std::size_t messages = 0;
  double mean_start = 0;  // arrival to the start of the sync that fetched it
  double p95_start = 0;
  double mean_end = 0;  // ... to its end
  double p95_end = 0;
  std::vector<std::string> violations;
};

struct Comparison {
  ScheduleRow adaptive;
  ScheduleRow fixed;
};

// `options.timings.adaptive` gives the bounds; enabled is set by the runs.
Comparison compare_adaptive(const Options& options);

void print_comparison(std::ostream& out, const Options& options, const Comparison& c);

}  // namespace himalaya::sim
