// sync.adaptive (SPEC §11): the fleet's model of when mail arrives, and the
// interval it gives the schedule.
//
// The model (ArrivalModel, state.h, key `arrivals`) holds, per hour of the
// week in local time, the messages the fleet's syncs fetched and the hours
// those syncs covered, both decayed with a half-life of arrivals_half_life.
// Each sync's end teaches it (learn_arrivals(), from record_sync_end() in
// transitions.cpp): a sync that fetched n messages spreads them evenly over
// the span since the start of the previous sync the model accounted for, hour
// by hour. A sync whose count is unknown teaches nothing but moves that start
// on (it fetched what arrived); a sync that failed teaches nothing and leaves
// it (the next sync fetches that mail). A push sync (SPEC §10) counts its
// hours but none of its messages: with push on, the timer governs only the
// mail push did not announce, which the other syncs fetch.
// Hours are each writer's local time (Timings::adaptive.utc_offset): a fleet
// whose editors run in different time zones mixes them.
//
// The interval: the square-root rule. With arrivals at rate r(t) and syncs
// every T(t), a message waits T/2 on average, so the mean delay goes with the
// integral of r*T and the syncs with the integral of 1/T; for a given number
// of syncs the delay is least when T is proportional to 1/sqrt(r). The rule
// scales it so that at the model's mean rate r0 the interval is sync.interval:
//   T = clamp(sync.interval * sqrt(r0 / r), min_interval, max_interval)
// where r is the rate expected over the hour centred on now (the half past,
// whose mail the next sync fetches, and the half to come, which the interval
// being chosen governs; in the simulator this beat the coming hour alone):
// the hours of the week's rate,
// or, when the last sync fetched far more than they predicted (a storm:
// more than twice the expected count and by more than three messages), the
// rate that sync saw, if higher. By Jensen's inequality
// this makes no more syncs per week than the fixed interval (before the
// clamps), moved to when mail comes. A bucket's rate is shrunk toward the mean
// (prior_hours of observation at the mean rate), so an hour seen once does not
// swing the interval.
#pragma once

#include <optional>

#include "coordinator/state.h"
#include "coordinator/timings.h"

namespace himalaya::coordinator {

inline constexpr double arrivals_half_life = 21 * 86400.0;  // three weeks
// The model speaks once its decayed observation covers a day.
inline constexpr double arrivals_min_hours = 24;
// A span longer than a week (the fleet was closed) says too little about the
// hours it covers: the model only moves its start on.
inline constexpr double arrivals_max_span = 7 * 86400.0;
// How long after the last learned sync's start its surprising rate (a storm,
// ArrivalModel::recent) still counts.
inline constexpr double arrivals_recent_for = 2 * 3600.0;
// The weight, in hours observed at the mean rate, every bucket starts from.
inline constexpr double arrivals_prior_hours = 0.5;

// The hour of the week (0 = Monday 00:00) of a wall stamp, local time.
int hour_of_week(double wall, double utc_offset);

// Teaches the model one sync's result (creating it if absent). Pure; returns
// whether the model changed.
bool learn_arrivals(std::optional<ArrivalModel>& model, const SyncResult& result,
                    double utc_offset);

// Total observed hours and messages (decayed).
double observed_hours(const ArrivalModel& model);
// Messages per hour over all the observation; 0 when none.
double mean_rate(const ArrivalModel& model);
// Messages per hour expected over the hour centred on `wall` (local hours of
// the week, each bucket weighted by its share of that hour).
double rate_around(const ArrivalModel& model, double wall, double utc_offset);

// The adaptive interval (the rule above), or nothing when the model has too
// little data (the caller keeps sync.interval).
std::optional<double> adaptive_interval(const ArrivalModel& model, const Timings& timings,
                                        double wall);

}  // namespace himalaya::coordinator
