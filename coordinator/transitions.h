// The coordinator's decisions, as pure transitions.
//
// Each function takes the state as read under the store's lock, who this
// instance is (Self), what it has observed so far (Memory) and one reading of
// the clocks (Now); it changes the state in place and returns whether it must
// be written. No I/O, no clock reads, no callbacks: the runtime
// (coordinator.cpp) calls them inside StateStore::update(), so each decision is
// made on the latest state and written atomically, and the simulator drives
// the very same runtime on simulated time. Debug notes (the decisions worth a
// line in the log) are appended to `notes`.
//
// The rules are those of SPEC §5; where each one lives:
// - the election (who holds the lease): election.h;
// - when an automatic sync is due, and whether a recorded sync still runs:
//   schedule.h;
// - the rest (rebuilding a lost file, the own record, settling a sync that is
//   over, keeping the schedule across a rebuilt file or a wall-clock jump,
//   renewing the lease, granting and recording a sync): here.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "coordinator/away.h"
#include "coordinator/election.h"
#include "coordinator/identity.h"
#include "coordinator/interval.h"
#include "coordinator/liveness.h"
#include "coordinator/schedule.h"
#include "coordinator/state.h"
#include "coordinator/timings.h"

namespace himalaya::coordinator {

// One reading of the three clocks (clock.h), taken once per step.
struct Now {
  double wall = 0;
  double mono = 0;
  double boot = 0;
};
Now read_clocks(const Clock& clock);

using Notes = std::vector<std::string>;

// What one instance has observed, kept from step to step.
struct Memory {
  Observations seen;    // the heartbeats, as this reader saw them change
  SyncClock last_sync;  // elapsed time since last_sync_time
  // Elapsed time since running_sync.started, in time this machine was awake
  // (fed CLOCK_MONOTONIC, not boottime): the sync's owner times its sync out
  // on its monotonic clock, so a suspend must not make a sync that still runs
  // look abandoned (running_sync_deadline()) the moment the machine resumes.
  SyncClock running;
  std::optional<State> view;  // the last state read or written
  // Another instance's sync whose process this reader first saw gone, and
  // when (monotonic): see settle_running_sync().
  std::optional<std::pair<std::string, double>> exit_seen;
  double exit_seen_at = 0;
  // The server reported a change (push, SPEC §10) that no sync of this
  // instance started since has fetched. Set by the watcher's report while
  // primary; cleared when this instance starts a sync, or stops being primary
  // (the new primary's watcher takes over).
  bool push_pending = false;
  // The schedule's interval as last noted (debug mode notes each change).
  std::optional<IntervalChoice> interval_noted;
};

// This instance's own sync while it runs.
struct OwnSync {
  double started = 0;  // wall stamp, as recorded
  SyncTrigger trigger = SyncTrigger::automatic;
};

// Who this instance is, for one step.
struct Self {
  const Identity& identity;
  const Timings& timings;
  const ProcessProbe& probe;
  bool released = false;        // suspended: not a candidate for primary
  std::optional<OwnSync> sync;  // its sync, while one runs
  double last_started = 0;      // wall stamp of its last sync start (0: none)
  Succession succession = Succession::senior;
  // Its input and session (away.h); nullopt: not tracked, the record has no
  // `last_input` and never counts as away.
  std::optional<Presence> presence = std::nullopt;
  const std::string& id() const { return identity.instance_id; }
};

// The file is gone (deleted, or corrupt and moved aside: created == 0) after
// this instance had seen it: rebuild it from that view rather than from
// nothing, so the fleet keeps its primary and its sync record (and the
// cooldown holds). A running sync is kept only if it is this instance's own.
bool rebuild_from_view(State& s, const Memory& m, const Self& self, Notes& notes);

enum class OwnRecord {
  if_changed,  // written only when missing, its released flag differs, or its
               // presence must be written now (apply_presence())
  refresh,     // a heartbeat: always re-stamped
  remove,      // leaving
};
bool update_own_record(State& s, const Self& self, OwnRecord what, double wall);

// Ends a recorded running sync of another instance that is over
// (running_sync_active()), recording its result. One whose process has just
// exited is left to its instance for exited_sync_settle_delay(): it records the
// real outcome within milliseconds unless it is frozen.
bool settle_running_sync(State& s, Memory& m, const Self& self, const Now& now, Notes& notes);

// Keeps last_sync_time true: restores it from the view when a rebuilt file
// lost it, records this instance's own later start, and re-stamps a stamp of
// this instance that lies in the future (the wall clock went back).
bool keep_schedule(State& s, Memory& m, const Self& self, const Now& now, Notes& notes);

// Runs the election and writes its result (the new lease, the pruning).
bool elect_and_apply(State& s, const Memory& m, const Self& self, const Now& now,
                     Decision& decision);

// The lease holder's heartbeat, unless the lease has just been written.
bool renew_lease(State& s, const Self& self, const Decision& decision, double wall);

// What a read-modify-write is for.
enum class Step {
  heartbeat,  // refresh the own record, and the lease if primary
  look,       // write only what must change
  leave,      // remove the own record and hand over
};

// The part every read-modify-write starts with: observe, rebuild, own record,
// running sync, schedule, election, lease.
bool settle(State& s, Memory& m, const Self& self, Step step, const Now& now, Decision& decision,
            Notes& notes);

// This instance's view of the schedule, for the start-up sync.
struct Uptime {
  double seconds = 0;            // since this instance started (monotonic)
  bool startup_pending = false;  // first of its fleet, start-up sync not yet decided
};

struct Grant {
  bool granted = false;
  std::string reason;  // why not, or what kind of sync it is
};

// Whether this instance may run automatic syncs: it holds the lease (SPEC §5).
bool may_sync_automatically(const State& s, const std::string& instance_id);

// Checks the rules for a sync (automatic: primary, schedule, cooldown; push:
// primary and push_min_gap; manual: none but that no sync runs) and, if they
// allow it, records its start.
Grant grant_sync(State& s, Memory& m, const Self& self, SyncTrigger trigger, const Uptime& uptime,
                 const Now& now);

// The sync's process, once spawned, into this instance's running record.
bool record_sync_process(State& s, const Self& self, int pid, std::uint64_t start_ticks);

// The end of this instance's sync. A result of a later sync stays: this
// instance may have been frozen while others settled its sync and synced again.
bool record_sync_end(State& s, const Self& self, const SyncResult& result);

// When should this instance next look at the schedule, and is a sync due now?
// For the primary this is check_automatic_sync() on the view, and
// check_push_sync() while a push is pending (whichever is due first; the
// timer's sync when both are); a secondary only notes each fleet due time;
// Uncoordinated is below.
struct Due {
  bool now = false;
  double wait = -1;  // seconds until the next check; negative: none needed
  std::string reason;
  bool startup_decided = false;
  SyncTrigger trigger = SyncTrigger::automatic;  // the sync that is due (automatic or push)
  std::string interval_note;  // the interval changed (choose_interval): a debug note
};
Due next_due(Memory& m, const Self& self, bool primary, const Uptime& uptime, const Now& now);

// Uncoordinated: this instance's own timer, every interval from its last
// sync (boottime), or the start-up delay before its first; until it has
// synced itself, also no earlier than the fleet's schedule as it last read it.
Due next_due_alone(const Memory& m, const Self& self, std::optional<double> last_boot,
                   const Uptime& uptime, const Now& now);

// The host pid of the lease holder when it runs on this host and boot (a
// secondary watches it with a pidfd), else 0.
int primary_pid_here(const State& s, const HostFacts& here);

}  // namespace himalaya::coordinator
