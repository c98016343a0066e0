// Clock readings for tests, in seconds as doubles.
//
// wall_now() is the wall clock (system_clock, CLOCK_REALTIME): the clock of
// the hosts' records in the state file and of `date +%s.%N` in the sync
// scripts, so it is the one to compare with them. mono_now() is
// CLOCK_MONOTONIC (what steady_clock and Asio timers use on Linux), the same
// clock the coord-driver prints, so the two can be compared across processes;
// use it to measure how long something took.
#pragma once

#include <time.h>

#include <chrono>

namespace himalaya::testing {

inline double wall_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

inline double mono_now() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

}  // namespace himalaya::testing
