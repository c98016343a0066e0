#include "coordinator/election.h"

#include <algorithm>
#include <functional>
#include <tuple>

namespace himalaya::coordinator {
namespace {

// Whether a comes before b in the succession: higher priority, then earlier
// start, then the smaller id.
bool senior(const InstanceRecord& a, const InstanceRecord& b) {
  return std::make_tuple(-a.priority, a.started_at, std::cref(a.instance_id)) <
         std::make_tuple(-b.priority, b.started_at, std::cref(b.instance_id));
}

}  // namespace

const char* to_string(Succession succession) {
  return succession == Succession::first_come ? "first-come" : "senior";
}

const char* to_string(ElectionReason reason) {
  switch (reason) {
    case ElectionReason::keep:
      return "keep";
    case ElectionReason::vacant:
      return "no primary";
    case ElectionReason::primary_dead:
      return "primary process gone";
    case ElectionReason::primary_stale:
      return "primary heartbeat stale";
    case ElectionReason::primary_released:
      return "primary released the role";
    case ElectionReason::handover:
      return "handover";
  }
  return "keep";
}

Decision elect(const State& state, const ElectionContext& ctx) {
  Decision d;
  const double threshold = ctx.timings.takeover_threshold;

  std::map<std::string, Liveness> verdicts;
  for (const auto& [id, record] : state.instances) {
    Liveness v = id == ctx.self_id
                     ? Liveness::live
                     : judge(record, ctx.here, *ctx.probe, *ctx.seen, ctx.now, threshold);
    verdicts[id] = v;
    if (id == ctx.self_id) {
      continue;
    }
    auto age = ctx.seen->instance_age(id, ctx.now);
    if (v == Liveness::dead || (v == Liveness::stale && age && *age > ctx.timings.prune_after())) {
      d.prune.push_back(id);
    }
  }

  auto candidate = [&](const std::string& id, const InstanceRecord& record,
                       const std::optional<std::string>& exclude) {
    return verdicts[id] == Liveness::live && !record.released && !(exclude && id == *exclude);
  };
  auto best_candidate =
      [&](const std::optional<std::string>& exclude) -> std::optional<std::string> {
    if (ctx.succession == Succession::first_come) {
      // The baseline rule: this instance, if it may hold the lease; a leaving
      // holder leaves it vacant for the first instance that looks.
      auto self = state.instances.find(ctx.self_id);
      if (self != state.instances.end() && candidate(self->first, self->second, exclude)) {
        return ctx.self_id;
      }
      return std::nullopt;
    }
    const InstanceRecord* best = nullptr;
    for (const auto& [id, record] : state.instances) {
      if (!candidate(id, record, exclude)) {
        continue;
      }
      if (best == nullptr || senior(record, *best)) {
        best = &record;
      }
    }
    return best ? std::optional<std::string>(best->instance_id) : std::nullopt;
  };

  for (const auto& [id, record] : state.instances) {
    if (candidate(id, record, std::nullopt)) {
      d.candidates.push_back(id);
    }
  }
  if (state.primary) {
    d.previous = state.primary->instance_id;
  }
  const std::optional<std::string>& holder = d.previous;

  if (!holder) {
    d.reason = ElectionReason::vacant;
  } else if (*holder == ctx.self_id) {
    auto self = state.instances.find(ctx.self_id);
    if (self == state.instances.end() || self->second.released) {
      d.reason = ElectionReason::handover;
    }
  } else {
    auto record = state.instances.find(*holder);
    auto lease_age = ctx.seen->lease_age(ctx.now);
    if (record != state.instances.end() && verdicts[*holder] == Liveness::dead) {
      d.reason = ElectionReason::primary_dead;
    } else if (record != state.instances.end() && record->second.released) {
      d.reason = ElectionReason::primary_released;
    } else if (lease_age && *lease_age > threshold) {
      d.reason = ElectionReason::primary_stale;
    }
  }

  if (d.reason == ElectionReason::keep) {
    d.primary = holder;
    return d;
  }
  d.primary = best_candidate(holder);
  d.lease_changed = d.primary != holder;
  if (!d.lease_changed) {
    d.reason = ElectionReason::keep;
  }
  return d;
}

void apply(const Decision& decision, State& state, double wall_now) {
  if (decision.lease_changed) {
    if (!decision.primary) {
      state.primary.reset();
    } else {
      Lease lease;
      lease.instance_id = *decision.primary;
      lease.last_heartbeat = wall_now;
      auto it = state.instances.find(*decision.primary);
      if (it != state.instances.end()) {
        lease.pid = it->second.nvim_pid;
        lease.nvim_version = it->second.nvim_version;
      }
      state.primary = std::move(lease);
    }
  }
  for (const auto& id : decision.prune) {
    if (!decision.primary || id != *decision.primary) {
      state.instances.erase(id);
    }
  }
}

}  // namespace himalaya::coordinator
