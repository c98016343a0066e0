// A fleet of editors over simulated days (SPEC §13): each editor is the real
// coordinator runtime (coordinator.h) on the simulated world (world.h), with a
// stand-in host that runs a sync when told one is due. A workload opens and
// closes editors (heavy-tailed lifetimes), injects faults (SIGKILL, SIGSTOP and
// SIGCONT, suspend, wall-clock jumps, lock-holder stalls, VimSuspend), users'
// manual syncs and mail arrivals. The invariants of SPEC §5 are checked as it
// runs; the report gives syncs, role changes, the longest gap between syncs
// and the delay from each mail arrival to the sync that fetched it.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "coordinator/election.h"
#include "coordinator/timings.h"
#include "sim/mail_trace.h"
#include "sim/users.h"

namespace himalaya::sim {

struct Options {
  std::uint64_t seed = 1;
  int instances = 5;  // editor slots: each is open or closed at any time
  double days = 1;
  coordinator::Timings timings;
  bool churn = true;   // editors open and close; false: all open for the whole run
  bool faults = true;  // false: nothing goes wrong
  double mail_per_hour = 6;
  double manual_per_day = 1;            // :HimalayaSyncNow per editor slot and day
  bool push = false;                    // the primary's IMAP IDLE watcher reports each arrival
  MailTrace mail = MailTrace::poisson;  // how mail arrives (sim/mail_trace.h)
  // Mail arriving and automatic syncs before this many days are not measured
  // (the adaptive model's warm-up); the invariants hold throughout.
  double warmup_days = 0;
  coordinator::Succession succession = coordinator::Succession::senior;  // election.h
  // Each editor wakes up to this long after the state file's doorbell rings
  // or a process it watches exits (World::set_wake_jitter), so who looks
  // first is random; 0: in the order they started watching.
  double wake_jitter = 0;
  // Users type at work and are away nights and weekends (sim/users.h); each
  // editor reports its input when timings.away_after > 0 (SPEC §11).
  bool users = false;
  std::ostream* trace = nullptr;  // one line per event, if set
};

// The command line that replays a run with these options.
std::string replay_command(const Options& options);

struct Report {
  std::uint64_t automatic_syncs = 0;           // granted while coordinated
  std::uint64_t measured_automatic_syncs = 0;  // of those, after the warm-up
  std::uint64_t manual_syncs = 0;
  std::uint64_t push_syncs = 0;
  std::uint64_t uncoordinated_syncs = 0;
  std::uint64_t role_changes = 0;  // the lease moved to another instance
  // Of those, the ones where the new primary was the only open editor (the
  // fleet had emptied): no succession rule can avoid them.
  std::uint64_t lone_primaries = 0;
  std::uint64_t editors_opened = 0;
  std::uint64_t faults = 0;
  double longest_gap = 0;     // between sync starts, while an editor was open
  double expected_syncs = 0;  // simulated time / interval
  // Of mail arriving after the warm-up:
  std::vector<double> mail_delays;        // arrival to the end of the sync that fetched it
  std::vector<double> mail_start_delays;  // arrival to the start of that sync
  std::vector<std::string> violations;    // broken invariants, with their simulated time
  std::uint64_t events = 0;
  std::uint64_t writes = 0;
  UserReport users;  // with Options::users
};

Report simulate(const Options& options);

// Median and 99th percentile of values (0 if empty).
double percentile(std::vector<double> values, double p);

void print_report(std::ostream& out, const Options& options, const Report& report);

// One line of the users' report (Options::users): syncs per week, those in
// away time, and the catch-up delays.
std::string away_row(const Options& options, const Report& report);

}  // namespace himalaya::sim
