#include "coordinator/adaptive.h"

#include <algorithm>
#include <cmath>

namespace himalaya::coordinator {
namespace {

constexpr double hour = 3600;
constexpr double week = 7 * 86400.0;
// 1970-01-01 was a Thursday: Monday 00:00 lies three days before the epoch's
// start of week.
constexpr double monday_offset = 3 * 86400.0;

// Seconds into the local week, in [0, week).
double week_seconds(double wall, double utc_offset) {
  double s = std::fmod(wall + utc_offset + monday_offset, week);
  return s < 0 ? s + week : s;
}

double bucket_rate(const ArrivalModel& m, int h, double mean) {
  const auto i = static_cast<std::size_t>(h);
  return (m.messages[i] + arrivals_prior_hours * mean) / (m.hours[i] + arrivals_prior_hours);
}

// The recent rate: a span whose count lies far above what the model expected
// for its hours (more than twice, and by more than three messages: not
// Poisson noise at these rates) tells of a storm the week's pattern does not
// predict; until the next sync, the interval follows it. Called before the
// span is added, on a model that has seen enough.
void note_surprise(ArrivalModel& m, double from, double to, double n, double utc_offset) {
  m.recent = 0;
  if (observed_hours(m) < arrivals_min_hours) {
    return;
  }
  const double mean = mean_rate(m);
  double expected = 0;
  for (double t = from; t < to;) {
    const double into_hour = std::fmod(week_seconds(t, utc_offset), hour);
    const double end = std::min(to, t + (hour - into_hour));
    expected += bucket_rate(m, hour_of_week(t, utc_offset), mean) * (end - t) / hour;
    if (end <= t) {
      break;
    }
    t = end;
  }
  if (n > 2 * expected + 3) {
    m.recent = n / ((to - from) / hour);
  }
}

}  // namespace

int hour_of_week(double wall, double utc_offset) {
  const int h = static_cast<int>(week_seconds(wall, utc_offset) / hour);
  return std::clamp(h, 0, ArrivalModel::buckets - 1);
}

bool learn_arrivals(std::optional<ArrivalModel>& model, const SyncResult& result,
                    double utc_offset) {
  if (result.outcome != SyncOutcome::ok || !std::isfinite(result.started)) {
    return false;  // the mail it did not fetch is in the next sync's count
  }
  if (!model) {
    // The first sync seen: its span's start is unknown; it starts the model.
    model = ArrivalModel{};
    model->through = result.started;
    return true;
  }
  ArrivalModel& m = *model;
  const double from = m.through;
  const double to = result.started;
  if (to <= from) {
    return false;  // an older sync's end (or the clock went back): already accounted for
  }
  const double decay = std::exp2(-(to - from) / arrivals_half_life);
  for (std::size_t i = 0; i < m.messages.size(); ++i) {
    m.messages[i] *= decay;
    m.hours[i] *= decay;
  }
  m.through = to;
  if (!result.new_messages || *result.new_messages < 0 || to - from > arrivals_max_span) {
    return true;
  }
  // A push sync fetched mail the server announced: with push on, the timer
  // is there for what is not pushed, so the model counts only the mail other
  // syncs fetched, over all the hours.
  const double n = result.trigger == SyncTrigger::push ? 0 : *result.new_messages;
  const double span = to - from;
  note_surprise(m, from, to, n, utc_offset);
  double t = from;
  while (t < to) {
    const double into_hour = std::fmod(week_seconds(t, utc_offset), hour);
    const double end = std::min(to, t + (hour - into_hour));
    const auto i = static_cast<std::size_t>(hour_of_week(t, utc_offset));
    m.hours[i] += (end - t) / hour;
    m.messages[i] += n * (end - t) / span;
    if (end <= t) {
      break;  // no progress (rounding at an enormous stamp)
    }
    t = end;
  }
  return true;
}

double observed_hours(const ArrivalModel& model) {
  double total = 0;
  for (double h : model.hours) {
    total += h;
  }
  return total;
}

double mean_rate(const ArrivalModel& model) {
  double messages = 0;
  for (double n : model.messages) {
    messages += n;
  }
  const double hours = observed_hours(model);
  return hours > 0 ? messages / hours : 0;
}

double rate_around(const ArrivalModel& model, double wall, double utc_offset) {
  wall -= hour / 2;  // the hour from here on
  const double mean = mean_rate(model);
  const double into_hour = std::fmod(week_seconds(wall, utc_offset), hour);
  const int h = hour_of_week(wall, utc_offset);
  const int next = (h + 1) % ArrivalModel::buckets;
  const double rest = (hour - into_hour) / hour;  // share of the hour in this bucket
  return rest * bucket_rate(model, h, mean) + (1 - rest) * bucket_rate(model, next, mean);
}

std::optional<double> adaptive_interval(const ArrivalModel& model, const Timings& timings,
                                        double wall) {
  const AdaptiveTimings& a = timings.adaptive;
  if (observed_hours(model) < arrivals_min_hours) {
    return std::nullopt;
  }
  const double mean = mean_rate(model);
  double ahead = rate_around(model, wall, a.utc_offset);
  if (wall - model.through < arrivals_recent_for) {
    ahead = std::max(ahead, model.recent);
  }
  if (mean <= 0 || ahead <= 0) {
    return a.max_interval;  // no mail at all, or none expected
  }
  const double t = timings.interval * std::sqrt(mean / ahead);
  return std::clamp(t, a.min_interval, std::max(a.min_interval, a.max_interval));
}

}  // namespace himalaya::coordinator
