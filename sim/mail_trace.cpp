#include "sim/mail_trace.h"

#include <algorithm>
#include <array>
#include <cmath>

#include "coordinator/adaptive.h"

namespace himalaya::sim {
namespace {

constexpr double hour = 3600;
constexpr double storm_share = 0.15;  // of the week's mail, in storms
constexpr double storms_per_week = 3;

// Relative weight of each hour of the week (Monday 00:00 = 0), before scaling.
double shape(int h) {
  const int day = h / 24;
  const int hod = h % 24;
  if (day >= 5) {  // the weekend
    return hod >= 9 && hod < 21 ? 0.3 : 0.05;
  }
  if (hod >= 8 && hod < 11) {
    return 6;  // the morning rush
  }
  if (hod >= 11 && hod < 18) {
    return 1.5;
  }
  if (hod >= 18 && hod < 23) {
    return 0.5;
  }
  return 0.05;  // night
}

const std::array<double, 168>& normalized_shape() {
  static const std::array<double, 168> table = [] {
    std::array<double, 168> t{};
    double sum = 0;
    for (int h = 0; h < 168; ++h) {
      t[static_cast<std::size_t>(h)] = shape(h);
      sum += shape(h);
    }
    for (double& w : t) {
      w *= 168 / sum;  // mean 1
    }
    return t;
  }();
  return table;
}

int hour_of_week(double t) {
  return coordinator::hour_of_week(t, 0);  // UTC: the simulator's offset
}

}  // namespace

const char* to_string(MailTrace trace) {
  switch (trace) {
    case MailTrace::poisson:
      return "poisson";
    case MailTrace::flat:
      return "flat";
    case MailTrace::bursty:
      return "bursty";
  }
  return "poisson";
}

std::optional<MailTrace> mail_trace_from(const std::string& name) {
  for (auto t : {MailTrace::poisson, MailTrace::flat, MailTrace::bursty}) {
    if (name == to_string(t)) {
      return t;
    }
  }
  return std::nullopt;
}

MailSource::MailSource(MailTrace trace, double mail_per_hour, std::uint64_t seed, double start,
                       double days)
    : trace_(trace), mail_per_hour_(mail_per_hour), rng_(seed ^ 0x6d61696c74726163ULL) {
  peak_ = mail_per_hour;
  if (trace_ != MailTrace::bursty) {
    return;
  }
  const double storms = storms_per_week * days / 7;
  for (int i = 0; i < static_cast<int>(std::ceil(storms)); ++i) {
    const double from = start + rng_.uniform(0, days * 86400);
    storms_.emplace_back(from, from + hour);
  }
  const auto& w = normalized_shape();
  const double storm_rate = storm_share * 168 * mail_per_hour / storms_per_week;
  peak_ = (1 - storm_share) * mail_per_hour * *std::max_element(w.begin(), w.end()) +
          storm_rate * static_cast<double>(std::max<std::size_t>(1, storms_.size()));
}

double MailSource::rate(double t) const {
  if (trace_ != MailTrace::bursty) {
    return mail_per_hour_;
  }
  const double storm_rate = storm_share * 168 * mail_per_hour_ / storms_per_week;
  double r = (1 - storm_share) * mail_per_hour_ *
             normalized_shape()[static_cast<std::size_t>(hour_of_week(t))];
  for (const auto& [from, to] : storms_) {
    if (t >= from && t < to) {
      r += storm_rate;
    }
  }
  return r;
}

double MailSource::next(double t) {
  if (peak_ <= 0) {
    return t + 1e18;
  }
  // Thinning (Lewis and Shedler): candidates at the peak rate, each kept with
  // probability rate / peak.
  for (;;) {
    t += rng_.exponential(hour / peak_);
    if (rng_.unit() * peak_ < rate(t)) {
      return t;
    }
  }
}

}  // namespace himalaya::sim
