#include "sim/users.h"

#include <algorithm>
#include <cmath>

namespace himalaya::sim {
namespace {

constexpr double hour = 3600;
constexpr double day = 24 * hour;
constexpr double week = 7 * day;

}  // namespace

Users::Users(std::uint64_t seed, double idle_after, double interval)
    : rng_(seed ^ 0x5eedf00dULL), idle_after_(idle_after), interval_(interval) {}

bool Users::at_work(double t) {
  const double in_week = std::fmod(t, week);
  if (in_week >= 5 * day) {
    return false;  // Saturday, Sunday
  }
  const double h = std::fmod(in_week, day) / hour;
  return (h >= 9 && h < 12) || (h >= 13 && h < 18);
}

double Users::next_input(double t) {
  double next = t + rng_.exponential(90);
  if (at_work(next)) {
    return next;
  }
  // The next start of work: step by the hour, then a few minutes in.
  double start = std::floor(next / hour) * hour + hour;
  while (!at_work(start)) {
    start += hour;
  }
  return start + rng_.uniform(0, hour);  // they come in over the hour
}

void Users::input(double t, std::optional<double> last_sync) {
  if (away_at(t)) {
    report_.away_seconds += t - (last_input_ + idle_after_);
    ++report_.returns;
    if (!last_sync || t - *last_sync > interval_) {
      owed_since_ = t;
    }
  }
  last_input_ = std::max(last_input_, t);
}

void Users::sync_started(double t, bool automatic) {
  if (automatic) {
    ++report_.syncs;
    if (away_at(t)) {
      ++report_.away_syncs;
    }
  }
  if (owed_since_) {
    report_.catch_up_delays.push_back(t - *owed_since_);
    owed_since_.reset();
  }
}

void Users::finish(double t) {
  if (away_at(t)) {
    report_.away_seconds += t - (last_input_ + idle_after_);
  }
}

}  // namespace himalaya::sim
