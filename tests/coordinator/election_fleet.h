// A simulated fleet for the election's unit tests: members sharing one State
// (the file) and one FakeClock, each with its own Observations.
#pragma once

#include <map>
#include <string>

#include "coordinator/clock.h"
#include "coordinator/election.h"
#include "test_support.h"

namespace himalaya::coordinator::testing {

inline Timings timings(double takeover_threshold) {
  Timings t;
  t.takeover_threshold = takeover_threshold;
  return t;
}

// A simulated fleet sharing one State (the file) and one FakeClock. Each
// member keeps its own Observations, as each process does. step() is what the
// runtime does under the lock: refresh its own record on a heartbeat, elect,
// apply, and refresh the lease if it holds it.
class ElectionFleet {
 public:
  struct Member {
    Identity id;
    Observations seen;
    bool released = false;
    bool running = true;  // false: SIGSTOPped, takes no steps
  };

  explicit ElectionFleet(double threshold = 60) : threshold_(threshold) {}

  Member& add(const std::string& name, int pid, double started_at, HostFacts host = here()) {
    members_[name] = Member{identity(name, pid, started_at, std::move(host)), {}, false, true};
    if (members_[name].id.host.hostname == here().hostname &&
        members_[name].id.host.boot_id == here().boot_id) {
      probe.table[pid] = members_[name].id.host_start_ticks;
    }
    return members_[name];
  }

  Decision step(const std::string& name, bool heartbeat = true) {
    Member& m = members_.at(name);
    const double mono = clock.monotonic();
    m.seen.observe(state, mono);
    auto mine = state.instances.find(name);
    if (heartbeat || mine == state.instances.end() || mine->second.released != m.released) {
      state.instances[name] = to_record(m.id, clock.wall(), m.released);
    }
    ElectionContext ctx{name, here(), &probe, &m.seen, mono, timings(threshold_), succession};
    Decision d = elect(state, ctx);
    apply(d, state, clock.wall());
    if (heartbeat && state.primary && state.primary->instance_id == name && !d.lease_changed) {
      state.primary->last_heartbeat = clock.wall();
    }
    return d;
  }

  // Every running member takes a heartbeat step, then time passes.
  void heartbeat_round(double seconds) {
    for (auto& [name, m] : members_) {
      if (m.running) {
        step(name);
      }
    }
    clock.advance(seconds);
  }

  std::string primary() const { return state.primary ? state.primary->instance_id : ""; }
  Member& operator[](const std::string& name) { return members_.at(name); }

  FakeClock clock;
  FakeProbe probe;
  State state;
  Succession succession = Succession::senior;

 private:
  double threshold_;
  std::map<std::string, Member> members_;
};

}  // namespace himalaya::coordinator::testing
