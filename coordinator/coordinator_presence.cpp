// The runtime's side of Away (SPEC §11, away.h): input and session reports
// from the owner, and the debug notes of away and back.
#include <algorithm>
#include <cmath>
#include <string>

#include "coordinator/away.h"
#include "coordinator/interval.h"
#include "coordinator/runtime.h"

namespace himalaya::coordinator {

namespace {

std::string whole_seconds(double s) {
  return std::to_string(static_cast<long long>(std::floor(std::max(0.0, s)))) + " s";
}

}  // namespace

void Coordinator::Impl::input() {
  if (stopped()) {
    return;
  }
  const double wall = clock().wall();
  const bool first = !presence_;
  if (first) {
    presence_.emplace();
  }
  const double idle = wall - presence_->last_input;
  presence_->last_input = wall;
  if (first || lifecycle_ != Lifecycle::running || !coordinated() || !memory_.view) {
    return;
  }
  auto mine = memory_.view->instances.find(identity_.instance_id);
  if (mine != memory_.view->instances.end() && instance_away(mine->second, config_.timings, wall)) {
    // Back from away: tell the fleet now, not at the next heartbeat.
    debug("input after " + whole_seconds(idle) + " idle: this instance is back");
    evaluate(Step::look);
  }
}

void Coordinator::Impl::set_session_away(bool away) {
  if (stopped()) {
    return;
  }
  if (!presence_) {
    presence_.emplace();
    presence_->last_input = clock().wall();
  }
  if (presence_->session_away == away) {
    return;
  }
  presence_->session_away = away;
  debug(away ? "desktop session idle or locked" : "desktop session active again");
  if (lifecycle_ == Lifecycle::running) {
    evaluate(Step::look);
  }
}

void Coordinator::Impl::note_presence() {
  if (!memory_.view || !away_enabled(config_.timings)) {
    return;
  }
  const double wall = clock().wall();
  const bool self_away = presence_ && presence_away(*presence_, config_.timings, wall);
  if (self_away != away_noted_) {
    away_noted_ = self_away;
    debug(self_away ? "this instance is away (idle " + whole_seconds(config_.timings.away_after) +
                          " or session idle/locked)"
                    : "this instance is present again");
  }
  const bool fleet = fleet_away(*memory_.view, config_.timings, wall);
  if (fleet != fleet_away_noted_) {
    fleet_away_noted_ = fleet;
    debug(fleet ? "every instance is away: automatic syncs every " +
                      whole_seconds(config_.timings.away_interval)
                : "the fleet is back: automatic syncs every " +
                      whole_seconds(config_.timings.interval));
  }
}

}  // namespace himalaya::coordinator
