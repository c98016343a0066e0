// Mail arrival traces for the simulator (sync.adaptive, SPEC §11).
//
// - poisson: the simulator's original arrivals, drawn from the run's shared
//   random stream (so its seeds replay as before).
// - flat: the same constant-rate Poisson arrivals, from a stream of their own,
//   so that two schedules run on one seed see the very same mail.
// - bursty: also on its own stream, a non-homogeneous Poisson process by hour
//   of the week (UTC: the simulator's offset is 0): busy weekday mornings, a
//   working day, a quiet evening, near silence at night and at the weekend,
//   plus storms (an hour of heavy mail at random moments, about three a
//   week) that no model of the week predicts. Scaled so that the mean rate
//   over a week is mail_per_hour, as for the flat trace.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "sim/rng.h"

namespace himalaya::sim {

enum class MailTrace { poisson, flat, bursty };
const char* to_string(MailTrace trace);
std::optional<MailTrace> mail_trace_from(const std::string& name);

class MailSource {
 public:
  // `start` is the trace's time origin (wall seconds); the trace covers `days`.
  MailSource(MailTrace trace, double mail_per_hour, std::uint64_t seed, double start, double days);

  // The time (same clock as `start`) of the next arrival after `t`.
  double next(double t);
  // Messages per hour at `t`.
  double rate(double t) const;

 private:
  MailTrace trace_;
  double mail_per_hour_;
  Rng rng_;
  std::vector<std::pair<double, double>> storms_;  // [from, to)
  double peak_ = 0;                                // the highest rate: thinning's bound
};

}  // namespace himalaya::sim
