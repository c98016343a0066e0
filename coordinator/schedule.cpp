#include "coordinator/schedule.h"

#include <algorithm>
#include <cmath>

namespace himalaya::coordinator {

double SyncClock::since(double stamp, double wall, double boot) {
  if (!stamp_ || *stamp_ != stamp) {
    double elapsed = std::max(0.0, wall - stamp);
    if (stamp_) {
      // The stamp changed since the last look: whatever the writer's wall
      // clock said, this one was written after that look.
      elapsed = std::min(elapsed, std::max(0.0, boot - boot_at_last_look_));
    }
    stamp_ = stamp;
    base_ = elapsed;
    boot_at_first_sight_ = boot;
  }
  boot_at_last_look_ = boot;
  return peek(stamp, wall, boot);
}

void SyncClock::relabel(double stamp) {
  if (stamp_) {
    stamp_ = stamp;
  }
}

void SyncClock::restart(double stamp, double boot) {
  stamp_ = stamp;
  base_ = 0;
  boot_at_first_sight_ = boot;
  boot_at_last_look_ = boot;
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
  clock.relabel(state.last_sync_time);
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
    case SyncBlock::min_gap:
      return "push min_gap";
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

// True when the record names its sync process and that process ran on this
// host and boot, so that /proc can tell whether it still runs. Otherwise the
// sync is judged by its instance and the timeout.
bool sync_process_probed(const SyncRecord& r, const HostFacts& here) {
  return r.sync_pid > 0 && r.sync_start_ticks != 0 && r.hostname == here.hostname &&
         !r.boot_id.empty() && r.boot_id == here.boot_id;
}

// The named sync process is gone (or a zombie), or its pid now has another
// start time (reused).
bool sync_process_gone(const SyncRecord& r, const ProcessProbe& probe) {
  auto ticks = probe.start_ticks(r.sync_pid);
  return !ticks || *ticks != r.sync_start_ticks;
}

}  // namespace

SyncCheck check_automatic_sync(const SyncContext& ctx) {
  const Timings& p = ctx.timings;
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

SyncCheck check_push_sync(const SyncContext& ctx) {
  if (ctx.running) {
    return blocked(SyncBlock::running, 0, "push sync waits: a sync is already running");
  }
  if (!ctx.is_primary) {
    return blocked(SyncBlock::not_primary, 0, "push ignored as secondary");
  }
  const double gap = ctx.timings.push_min_gap;
  if (ctx.since_last && *ctx.since_last < gap) {
    return blocked(SyncBlock::min_gap, gap - *ctx.since_last,
                   "push sync in " + seconds_text(gap - *ctx.since_last) + " (push min_gap)");
  }
  SyncCheck check;
  check.start = true;
  check.reason = "push sync: the server reported a change";
  return check;
}

RunningVerdict running_sync_active(const State& state, const HostFacts& here,
                                   const ProcessProbe& probe, double age, const Timings& timings) {
  if (!state.running_sync) {
    return RunningVerdict{};
  }
  return running_sync_active(*state.running_sync, state, here, probe, age, timings);
}

RunningVerdict running_sync_active(const SyncRecord& r, const State& state, const HostFacts& here,
                                   const ProcessProbe& probe, double age, const Timings& timings) {
  RunningVerdict v;
  const bool over_time = age > timings.running_sync_deadline();
  if (sync_process_probed(r, here)) {
    // The sync process itself is the best evidence, whatever its instance's
    // state: while it lives the sync runs (even if its instance died and the
    // process is still ending), and once it is gone nothing of the sync runs
    // any more (it holds the sync lock for as long as it lives, see
    // host/sync_runner.h). Its instance may be hung or stopped (SIGSTOP) and
    // unable to record the end; how the sync ended is then unknown here.
    if (sync_process_gone(r, probe)) {
      v.outcome = SyncOutcome::cancelled;
      v.reason = "outcome unknown: the sync process exited, its instance did not record the end";
      v.process_exited = true;
      return v;
    }
    if (over_time) {
      v.outcome = SyncOutcome::timed_out;
      v.reason = "the sync process still runs past the sync timeout";
      return v;
    }
    v.active = true;
    return v;
  }
  auto owner = state.instances.find(r.instance_id);
  if (owner != state.instances.end() && process_gone(owner->second, here, probe)) {
    v.outcome = SyncOutcome::cancelled;
    v.reason = "the instance running it is gone";
    return v;
  }
  if (over_time) {
    v.outcome = SyncOutcome::timed_out;
    v.reason = "no end recorded within the sync timeout";
    return v;
  }
  v.active = true;
  return v;
}

}  // namespace himalaya::coordinator
