// The users of a simulated fleet (SPEC §11 "Away"): when they type, and what
// the away policy did about it.
//
// The run begins on a Monday at 00:00. Users work Monday to Friday from 9:00
// to 18:00 with a lunch hour from 12:00; nights and weekends they are away
// (the editors stay open); they come back within the hour. At work, some editor of the fleet gets
// input every exponential(mean 90 s). The inputs come from their own random stream, so a run with
// away on and one with away off (the same seed) see the same users.
//
// Away time, for the report, is the users' own: the time since the last
// input is at least `idle_after` (the default sync.away.after), whatever the
// coordinator thought. A return is the first input after away time; if the
// last sync started more than an interval before it, a catch-up sync is
// owed, and its delay is the time to the next sync start.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "sim/rng.h"

namespace himalaya::sim {

struct UserReport {
  std::uint64_t away_syncs = 0;  // automatic syncs started in away time
  std::uint64_t syncs = 0;       // all automatic syncs
  double away_seconds = 0;
  std::uint64_t returns = 0;
  std::vector<double> catch_up_delays;  // return to the next sync start, when one was owed
};

class Users {
 public:
  Users(std::uint64_t seed, double idle_after, double interval);

  // Seconds since the run began of the next input after `t`.
  double next_input(double t);
  static bool at_work(double t);

  // The fleet got input at `t`; `last_sync` is the last sync start (any
  // trigger), if any.
  void input(double t, std::optional<double> last_sync);
  // A sync started at `t` (automatic or not).
  void sync_started(double t, bool automatic);
  // Closes the account at the end of the run.
  void finish(double t);

  const UserReport& report() const { return report_; }

 private:
  bool away_at(double t) const { return t - last_input_ >= idle_after_; }

  Rng rng_;
  double idle_after_;
  double interval_;
  double last_input_ = 0;  // the editors open at 0
  std::optional<double> owed_since_;
  UserReport report_;
};

}  // namespace himalaya::sim
