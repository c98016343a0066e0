#include "coordinator/interval.h"

#include "coordinator/adaptive.h"
#include "coordinator/away.h"

namespace himalaya::coordinator {

const char* to_string(IntervalReason reason) {
  switch (reason) {
    case IntervalReason::fixed:
      return "";
    case IntervalReason::away:
      return "away";
    case IntervalReason::adaptive:
      return "adaptive";
  }
  return "";
}

IntervalChoice choose_interval(const State& state, const Timings& timings, double wall) {
  if (fleet_away(state, timings, wall)) {
    return IntervalChoice{timings.away_interval, IntervalReason::away};
  }
  if (timings.adaptive.enabled && state.arrivals) {
    if (auto seconds = adaptive_interval(*state.arrivals, timings, wall)) {
      return IntervalChoice{*seconds, IntervalReason::adaptive};
    }
  }
  return IntervalChoice{timings.interval, IntervalReason::fixed};
}

}  // namespace himalaya::coordinator
