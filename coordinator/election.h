// The election: a pure function of (state, who I am, what I have observed,
// now) that says who holds the primary lease after this step.
//
// Rules (SPEC §5):
// - A live primary keeps the lease, even if a longer-running instance exists:
//   the role moves only when it must.
// - The lease moves when its holder is dead (process facts, same host and
//   boot), stale (its lease heartbeat unchanged for more than the takeover
//   threshold on this reader's monotonic clock), released (suspended), or
//   absent. It moves to the best candidate: a live, unreleased instance, the
//   highest coordination.priority first (SPEC §11), then the longest-running
//   (earliest started_at), then the smallest instance id.
//   Every reader computes the same successor, so whoever evaluates first may
//   write it; the successor learns it through the doorbell (state_file.h).
// - A holder that is this instance and has released (or is leaving) hands the
//   lease to the best other candidate, or leaves it vacant.
// - Dead records, and records stale for longer than prune_after, are pruned.
// The caller runs elect() inside StateFile::update(), so the state it sees is
// the latest and the decision is written atomically: two instances that start
// together cannot both win, and after any step at most one instance holds
// the lease. This instance's own record must already be in the state (or be
// absent on purpose, when leaving); it is always judged live.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "coordinator/identity.h"
#include "coordinator/liveness.h"
#include "coordinator/state.h"
#include "coordinator/timings.h"

namespace himalaya::coordinator {

// Who succeeds a primary that must be replaced. `senior` is the rule above,
// the one the host uses. `first_come` (whoever evaluates first takes the
// lease, and a leaving primary leaves it vacant) exists for the simulator's
// comparison (SPEC §11: the seniority rule is there to cut handovers).
enum class Succession { senior, first_come };
const char* to_string(Succession succession);

struct ElectionContext {
  std::string self_id;
  HostFacts here;
  const ProcessProbe* probe = nullptr;
  const Observations* seen = nullptr;
  double now = 0;   // monotonic seconds
  Timings timings;  // takeover_threshold, and prune_after() for removing records
  Succession succession = Succession::senior;
};

enum class ElectionReason {
  keep,              // the holder is live (or there is none and no candidate either)
  vacant,            // there was no primary
  primary_dead,      // the holder's process is gone or its pid was reused
  primary_stale,     // the holder's heartbeat stopped changing
  primary_released,  // the holder is suspended
  handover,          // this instance, the holder, released the lease
};
const char* to_string(ElectionReason reason);

struct Decision {
  std::optional<std::string> primary;   // the lease holder after this step
  std::optional<std::string> previous;  // the holder before
  bool lease_changed = false;
  ElectionReason reason = ElectionReason::keep;
  std::vector<std::string> prune;  // instance ids to remove
  // The live, unreleased instances (this one included when its record is
  // there and not released): who may hold the lease, and who runs channels
  // (channels.h).
  std::vector<std::string> candidates;
};

Decision elect(const State& state, const ElectionContext& context);

// Writes the decision into state: the new lease (heartbeat = wall_now, the pid
// and version from the successor's record) and the pruning.
void apply(const Decision& decision, State& state, double wall_now);

}  // namespace himalaya::coordinator
