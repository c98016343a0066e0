// What a Coordinator told its caller, for the in-process tests: role changes,
// warnings, debug decisions, sync events and sync_due calls (with when), plus
// a hook to act on each sync_due.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "coordinator/coordinator.h"
#include "tests/support/clock.h"

namespace himalaya::coordinator::testing {

using himalaya::testing::mono_now;

struct Recorder {
  std::vector<std::pair<Role, Role>> roles;
  std::vector<std::string> warnings;
  std::vector<std::string> debugs;
  int sync_due = 0;
  std::vector<double> due_at;             // clock's monotonic seconds (mono_now() without one)
  std::vector<SyncTrigger> due_triggers;  // what each sync_due asked for
  const Clock* clock = nullptr;           // the virtual clock, in the virtual-time tests
  std::vector<SyncEvent> syncs;
  std::function<void()> on_due;

  Events events() {
    Events e;
    e.role_changed = [this](Role a, Role b) { roles.emplace_back(a, b); };
    e.warning = [this](const std::string& w) { warnings.push_back(w); };
    e.debug = [this](const std::string& d) { debugs.push_back(d); };
    e.sync_event = [this](const SyncEvent& s) { syncs.push_back(s); };
    e.sync_due = [this](SyncTrigger trigger) {
      ++sync_due;
      due_triggers.push_back(trigger);
      due_at.push_back(clock != nullptr ? clock->monotonic() : mono_now());
      if (on_due) {
        on_due();
      }
    };
    return e;
  }
  bool became(Role role) const {
    for (const auto& [before, after] : roles) {
      if (after == role) {
        return true;
      }
    }
    return false;
  }
};

inline bool any_contains(const std::vector<std::string>& lines, const std::string& part) {
  for (const auto& line : lines) {
    if (line.find(part) != std::string::npos) {
      return true;
    }
  }
  return false;
}

}  // namespace himalaya::coordinator::testing
