// Is an instance alive? Two kinds of evidence, used in this order:
//
// 1. Process facts, for records from this host and this boot only: the host
//    pid is gone (or a zombie), or it now has another start time (the pid was
//    reused). Either proves the instance dead, at once and for certain.
// 2. Heartbeats, for everything else (records from other hosts sharing the
//    home directory, other boots, and hung processes such as a SIGSTOPped
//    one): a record is stale when this reader has not seen its heartbeat value
//    change for longer than the takeover threshold, measured on this reader's
//    own monotonic clock (client-go's observedTime). The heartbeat's wall value
//    is never compared with this reader's wall clock, so a wall-clock jump
//    cannot make a record stale, and since CLOCK_MONOTONIC stops during
//    suspend, neither can a laptop suspend.
// A reader that has just started has seen no change yet and counts from its
// first sight: it waits a full threshold before it calls a record stale.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "coordinator/identity.h"
#include "coordinator/state.h"

namespace himalaya::coordinator {

// A heartbeat value and the monotonic time this reader first saw it.
struct Observation {
  double heartbeat = 0;
  double seen_at = 0;
};

// What this reader has seen of each heartbeat in the file.
class Observations {
 public:
  // Records the heartbeats in state as seen at monotonic time now. Call it on
  // every state read, before judging.
  void observe(const State& state, double now);

  // Seconds since the record's heartbeat last changed, as this reader saw it;
  // nullopt if never seen.
  std::optional<double> instance_age(const std::string& instance_id, double now) const;
  // The same for the primary lease (who and heartbeat).
  std::optional<double> lease_age(double now) const;

 private:
  std::map<std::string, Observation> instances_;
  std::string lease_holder_;
  std::optional<Observation> lease_;
};

enum class Liveness { live, stale, dead };
const char* to_string(Liveness liveness);

// True when process facts prove the record dead: same hostname and boot id,
// and the host pid is gone or has another start time.
bool process_gone(const InstanceRecord& record, const HostFacts& here, const ProcessProbe& probe);

// Judges one instance record: dead by process facts, else stale by observed
// heartbeat age (> threshold), else live.
Liveness judge(const InstanceRecord& record, const HostFacts& here, const ProcessProbe& probe,
               const Observations& seen, double now, double threshold);

}  // namespace himalaya::coordinator
