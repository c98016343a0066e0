#include "coordinator/schedule.h"

#include <algorithm>
#include <cmath>

namespace himalaya::coordinator {

double SyncClock::since(double stamp, double wall, double boot) {
  if (!stamp_ || *stamp_ != stamp) {
    stamp_ = stamp;
    base_ = std::max(0.0, wall - stamp);
    boot_at_first_sight_ = boot;
  }
  return peek(stamp, wall, boot);
}

double SyncClock::peek(double stamp, double wall, double boot) const {
  if (!stamp_ || *stamp_ != stamp) {
    return std::max(0.0, wall - stamp);
  }
  return base_ + std::max(0.0, boot - boot_at_first_sight_);
}

bool restamp_last_sync(State& state, SyncClock& clock, double wall, double boot) {
  if (state.last_sync_time <= 0 || state.last_sync_time <= wall) {
    return false;
  }
  double elapsed = clock.since(state.last_sync_time, wall, boot);
  state.last_sync_time = wall - elapsed;
  clock.since(state.last_sync_time, wall, boot);
  return true;
}

const char* to_string(SyncBlock block) {
  switch (block) {
    case SyncBlock::none:
      return "none";
    case SyncBlock::running:
      return "a sync is running";
    case SyncBlock::not_primary:
      return "secondary";
    case SyncBlock::cooldown:
      return "cooldown";
    case SyncBlock::not_due:
      return "not due";
  }
  return "none";
}

namespace {

std::string seconds_text(double s) {
  return std::to_string(static_cast<long long>(std::ceil(std::max(0.0, s)))) + " s";
}

SyncCheck blocked(SyncBlock block, double wait, std::string reason) {
  SyncCheck c;
  c.block = block;
  c.wait = std::max(0.0, wait);
  c.reason = std::move(reason);
  return c;
}

}  // namespace

SyncCheck check_automatic_sync(const SyncContext& ctx) {
  const SyncPolicy& p = ctx.policy;
  if (ctx.running) {
    return blocked(SyncBlock::running, 0, "skipped: a sync is already running");
  }
  if (!ctx.is_primary) {
    return blocked(SyncBlock::not_primary, 0, "skipped as secondary");
  }
  SyncCheck check;
  if (ctx.startup_pending || !ctx.since_last) {
    if (ctx.uptime < p.startup_delay) {
      return blocked(SyncBlock::not_due, p.startup_delay - ctx.uptime,
                     "start-up sync in " + seconds_text(p.startup_delay - ctx.uptime));
    }
    if (!ctx.since_last || *ctx.since_last >= p.sync_cooldown) {
      check.start = true;
      check.startup_decided = true;
      check.reason = ctx.since_last ? "start-up sync" : "first sync";
      return check;
    }
    check.startup_decided = true;  // cooldown not over: no start-up sync, keep the schedule
  }
  const double since = *ctx.since_last;
  if (since < p.sync_cooldown) {
    SyncCheck c =
        blocked(SyncBlock::cooldown, (since < p.interval ? p.interval : p.sync_cooldown) - since,
                "skipped for cooldown (" + seconds_text(p.sync_cooldown - since) + " left)");
    c.startup_decided = check.startup_decided;
    return c;
  }
  if (since < p.interval) {
    SyncCheck c = blocked(SyncBlock::not_due, p.interval - since,
                          "next sync in " + seconds_text(p.interval - since));
    c.startup_decided = check.startup_decided;
    return c;
  }
  check.start = true;
  check.reason = "scheduled sync";
  return check;
}

RunningVerdict running_sync_active(const State& state, const HostFacts& here,
                                   const ProcessProbe& probe, double age,
                                   const SyncPolicy& policy) {
  RunningVerdict v;
  if (!state.running_sync) {
    return v;
  }
  const SyncRecord& r = *state.running_sync;
  auto owner = state.instances.find(r.instance_id);
  if (owner != state.instances.end() && process_gone(owner->second, here, probe)) {
    v.outcome = SyncOutcome::cancelled;
    v.reason = "the instance running it is gone";
    return v;
  }
  if (age > policy.sync_timeout + policy.grace) {
    v.outcome = SyncOutcome::timed_out;
    v.reason = "no end recorded within the sync timeout";
    return v;
  }
  v.active = true;
  return v;
}

}  // namespace himalaya::coordinator
