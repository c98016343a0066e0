// When may an automatic sync start? The fleet-wide schedule and cooldown of
// SPEC §5, as pure functions of recorded times and this reader's clocks.
//
// Schedule: `last_sync_time` is when the last sync started, whoever ran it. The
// next automatic sync is due at last_sync_time + interval, and never earlier
// than last_sync_time + sync_cooldown. A takeover changes nothing here: the new
// primary reads the same record, so failover never adds a sync. Only the first
// instance of a fleet (one that found no live primary when it started) gets a
// start-up sync, after startup_delay, and only if the cooldown has passed by
// then; otherwise it waits for the schedule.
//
// Time: recorded times are wall stamps, but elapsed time is measured with
// SyncClock, which is jump-proof:
// - at first sight of a stamp, elapsed = wall - stamp, clamped to >= 0;
// - from then on it grows with CLOCK_BOOTTIME, which never jumps but does
//   count suspend (so a laptop that slept past the interval syncs on waking).
// Hence a forward jump of the wall clock cannot skip the cooldown or bring the
// schedule forward, and a backward jump cannot stall it. A stamp in the
// future (the wall clock went back after it was written) is re-stamped to
// wall - elapsed (restamp_last_sync()), so every reader, including the
// original Lua plugin, again sees a sensible value. A reader that first sees a
// stamp after a jump has only the wall clock to go by; clamping keeps the
// error to at most the cooldown (forward) or one interval (backward).
// A stamp that changed between two looks was written between them, so its
// elapsed time at first sight is also at most the time since the last look.
// That keeps a stamp from a machine whose clock is behind (a home shared
// over NFS) from looking old, and a takeover from syncing early.
#pragma once

#include <optional>
#include <string>

#include "coordinator/identity.h"
#include "coordinator/liveness.h"
#include "coordinator/state.h"
#include "coordinator/timings.h"

namespace himalaya::coordinator {

// Jump-proof seconds since one recorded wall stamp (see above).
class SyncClock {
 public:
  // Elapsed seconds since stamp; remembers the first sight of a new stamp,
  // and this look. A stamp of 0 (nothing synced yet) is remembered too.
  double since(double stamp, double wall, double boot);
  // The same without remembering (for const status queries).
  double peek(double stamp, double wall, double boot) const;
  // The stamp was rewritten to `stamp` for the same sync (restamp_last_sync):
  // the elapsed time goes on.
  void relabel(double stamp);
  // This reader has just written `stamp` for a sync it starts: zero elapsed,
  // even when an older stamp had the same value (the wall clock went back by
  // exactly the time since that sync).
  void restart(double stamp, double boot);

 private:
  std::optional<double> stamp_;
  double base_ = 0;
  double boot_at_first_sight_ = 0;
  double boot_at_last_look_ = 0;
};

// If last_sync_time lies in the future, sets it to wall - elapsed and returns
// true (the caller writes the state).
bool restamp_last_sync(State& state, SyncClock& clock, double wall, double boot);

enum class SyncBlock { none, running, not_primary, cooldown, not_due, min_gap };
const char* to_string(SyncBlock block);

struct SyncContext {
  bool is_primary = false;
  bool running = false;              // a sync is running somewhere (running_sync_active())
  std::optional<double> since_last;  // nullopt: never synced
  double uptime = 0;                 // seconds since this instance started (monotonic)
  bool startup_pending = false;      // first of its fleet, start-up sync not yet decided
  Timings timings;
};

struct SyncCheck {
  bool start = false;
  SyncBlock block = SyncBlock::none;
  double wait = 0;               // seconds until it may be due (when block is cooldown/not_due)
  bool startup_decided = false;  // the start-up sync was taken or given up: clear the pending flag
  std::string reason;            // for debug notifications
};

SyncCheck check_automatic_sync(const SyncContext& context);

// A push sync (SPEC §10): the primary's IMAP IDLE watcher saw the server's
// mailbox change. It skips the cooldown (new mail is what the user waits for)
// but starts at least push_min_gap after the last sync start, whoever ran it,
// so a burst of deliveries is one sync, not one per message. It never starts
// while a sync runs: the caller keeps the change pending and asks again when
// that sync has ended, which gives one follow-up sync however many changes
// came meanwhile. Like any sync it moves the fleet's schedule: the next
// automatic sync is due an interval after it.
SyncCheck check_push_sync(const SyncContext& context);

// Is the recorded running sync still running? When the record names its sync
// process and that ran on this host and boot, the process decides: the sync
// runs while it lives and is over once it has exited, whatever the state of
// the instance that started it (which may be frozen, SIGSTOP, and unable to
// record the end: the outcome is then unknown, recorded as cancelled with a
// reason that says so). Otherwise it is over when its owner is dead by process
// facts (same host and boot). Either way it is over once it has run longer
// than Timings::running_sync_deadline() (its owner should have ended it or
// been killed by then), age being measured with a SyncClock.
struct RunningVerdict {
  bool active = false;
  SyncOutcome outcome = SyncOutcome::cancelled;  // how to record it if over
  std::string reason;
  bool process_exited = false;  // over because its sync process is gone
};
RunningVerdict running_sync_active(const State& state, const HostFacts& here,
                                   const ProcessProbe& probe, double age, const Timings& timings);
// The same for any running record: a channel's (channels.h), judged against
// the state's instance records.
RunningVerdict running_sync_active(const SyncRecord& record, const State& state,
                                   const HostFacts& here, const ProcessProbe& probe, double age,
                                   const Timings& timings);

}  // namespace himalaya::coordinator
