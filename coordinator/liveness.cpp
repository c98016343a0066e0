#include "coordinator/liveness.h"

namespace himalaya::coordinator {

void Observations::observe(const State& state, double now) {
  for (auto it = instances_.begin(); it != instances_.end();) {
    it = state.instances.count(it->first) != 0 ? std::next(it) : instances_.erase(it);
  }
  for (const auto& [id, record] : state.instances) {
    auto it = instances_.find(id);
    if (it == instances_.end() || it->second.heartbeat != record.last_heartbeat) {
      instances_[id] = Observation{record.last_heartbeat, now};
    }
  }
  if (!state.primary) {
    lease_holder_.clear();
    lease_.reset();
  } else if (!lease_ || lease_holder_ != state.primary->instance_id ||
             lease_->heartbeat != state.primary->last_heartbeat) {
    lease_holder_ = state.primary->instance_id;
    lease_ = Observation{state.primary->last_heartbeat, now};
  }
}

std::optional<double> Observations::instance_age(const std::string& instance_id, double now) const {
  auto it = instances_.find(instance_id);
  if (it == instances_.end()) {
    return std::nullopt;
  }
  return now - it->second.seen_at;
}

std::optional<double> Observations::lease_age(double now) const {
  if (!lease_) {
    return std::nullopt;
  }
  return now - lease_->seen_at;
}

const char* to_string(Liveness liveness) {
  switch (liveness) {
    case Liveness::live:
      return "live";
    case Liveness::stale:
      return "stale";
    case Liveness::dead:
      return "dead";
  }
  return "dead";
}

bool process_gone(const InstanceRecord& record, const HostFacts& here, const ProcessProbe& probe) {
  if (record.hostname != here.hostname || record.boot_id != here.boot_id ||
      record.boot_id.empty() || record.host_pid <= 0) {
    return false;  // not ours to probe: judged by heartbeat only
  }
  auto ticks = probe.start_ticks(record.host_pid);
  return !ticks || *ticks != record.host_start_ticks;
}

Liveness judge(const InstanceRecord& record, const HostFacts& here, const ProcessProbe& probe,
               const Observations& seen, double now, double threshold) {
  if (process_gone(record, here, probe)) {
    return Liveness::dead;
  }
  auto age = seen.instance_age(record.instance_id, now);
  if (age && *age > threshold) {
    return Liveness::stale;
  }
  return Liveness::live;
}

}  // namespace himalaya::coordinator
