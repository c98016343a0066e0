// Every duration of the coordinator, with its default written once.
//
// Seconds as doubles, fractional allowed (tests scale them down). The host
// fills them in from the user's options (host/config.h embeds this struct,
// SPEC §3 validates it: positive, heartbeat_interval < takeover_threshold);
// the coordinator, the election and the schedule read them from here.
#pragma once

#include <algorithm>

namespace himalaya::coordinator {

// Between SIGTERM and SIGKILL for a sync being stopped (host/sync_runner.h).
// Short, because the host must be gone within a second of Neovim closing the
// channel.
inline constexpr double sync_kill_grace = 0.5;

// sync.adaptive (SPEC §11): the interval from the fleet's arrival model
// (coordinator/adaptive.h), between these bounds.
struct AdaptiveTimings {
  bool enabled = false;        // sync.adaptive.enabled
  double min_interval = 120;   // sync.adaptive.min_interval
  double max_interval = 3600;  // sync.adaptive.max_interval
  // Seconds east of UTC: the model's hours of the week are local time. The
  // host passes its own offset (taken at start), the simulator 0.
  double utc_offset = 0;
};

struct Timings {
  double interval = 900;            // sync.interval: between automatic syncs
  double startup_delay = 2;         // sync.startup_delay: before the first one
  double heartbeat_interval = 30;   // coordination.heartbeat_interval
  double takeover_threshold = 60;   // coordination.takeover_threshold
  double sync_cooldown = 300;       // coordination.sync_cooldown
  double sync_timeout = 600;        // sync.timeout: the sync command's limit
  double lock_timeout = 1.5;        // the bounded wait for the state file's lock
  double leave_lock_timeout = 0.3;  // the same, in all, once the instance is leaving
  double push_min_gap = 2;          // sync.push.min_gap: between push sync starts (SPEC §10)
  AdaptiveTimings adaptive;         // sync.adaptive
  double away_after = 900;          // sync.away.after: idle this long is away; 0: off (SPEC §11)
  double away_interval = 3600;      // sync.away.interval: the interval while the fleet is away

  // A recorded running sync older than this is abandoned by the readers: its
  // owner would have killed it at sync_timeout, and its process would have
  // been gone sync_kill_grace later; a second for the end to be recorded, and
  // the takeover threshold for an owner that was stopped meanwhile.
  double running_sync_deadline() const {
    return sync_timeout + sync_kill_grace + 1 + takeover_threshold;
  }
  // A sync whose process has exited is settled by another instance only
  // after it has seen the process gone this long: its own instance records
  // the real outcome within milliseconds unless it is frozen.
  double exited_sync_settle_delay() const { return std::min(heartbeat_interval, 1.0); }
  // A record stale for this long is pruned from `instances`.
  double prune_after() const { return 2 * takeover_threshold; }
};

}  // namespace himalaya::coordinator
