#include "coordinator/away.h"

namespace himalaya::coordinator {

bool away_enabled(const Timings& timings) {
  return timings.away_after > 0;
}

bool instance_away(const InstanceRecord& record, const Timings& timings, double wall) {
  if (!away_enabled(timings) || !record.last_input) {
    return false;
  }
  return record.session_away || wall - *record.last_input >= timings.away_after;
}

bool presence_away(const Presence& presence, const Timings& timings, double wall) {
  return away_enabled(timings) &&
         (presence.session_away || wall - presence.last_input >= timings.away_after);
}

bool session_away_on_its_machine(const State& state, const InstanceRecord& record) {
  for (const auto& [id, other] : state.instances) {
    if (other.session_away && other.hostname == record.hostname &&
        other.boot_id == record.boot_id) {
      return true;
    }
  }
  return false;
}

bool fleet_away(const State& state, const Timings& timings, double wall) {
  if (!away_enabled(timings) || state.instances.empty()) {
    return false;
  }
  for (const auto& [id, record] : state.instances) {
    const bool away = instance_away(record, timings, wall) ||
                      (record.last_input && session_away_on_its_machine(state, record));
    if (!away) {
      return false;
    }
  }
  return true;
}

bool apply_presence(InstanceRecord& record, const Presence& presence, const Timings& timings,
                    double wall) {
  const bool was_away = instance_away(record, timings, wall);
  const bool session_changed = record.session_away != presence.session_away;
  record.last_input = presence.last_input;
  record.session_away = presence.session_away;
  const bool back = was_away && !presence_away(presence, timings, wall);
  if (back) {
    record.returned = wall;
  }
  return back || session_changed;
}

}  // namespace himalaya::coordinator
