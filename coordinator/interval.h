// The interval of the fleet's automatic schedule right now (SPEC §11).
//
// `sync.interval` is the plain answer. The schedule policies of SPEC §11 may
// choose another one: `away` (every live instance has been idle: a longer
// interval) and `adaptive` (the fleet's model of when mail arrives: between
// its bounds). Each policy is a pure function of the state and one reading of
// the wall clock; choose_interval() is the one place that asks them, and both
// the schedule (transitions.cpp) and the status (status_view.cpp) read its
// answer, so what the report says is what the timer does.
#pragma once

#include <string>

#include "coordinator/state.h"
#include "coordinator/timings.h"

namespace himalaya::coordinator {

enum class IntervalReason {
  fixed,     // sync.interval
  away,      // sync.away: every live instance is away
  adaptive,  // sync.adaptive: from the fleet's arrival model
};
// "" for fixed, else the word the status report puts in brackets.
const char* to_string(IntervalReason reason);

struct IntervalChoice {
  double seconds = 0;
  IntervalReason reason = IntervalReason::fixed;
};

// `wall` is this reader's wall clock (Unix seconds).
IntervalChoice choose_interval(const State& state, const Timings& timings, double wall);

}  // namespace himalaya::coordinator
