#include "host/events.h"

#include "host/protocol.h"

namespace himalaya::host {

using coordinator::Role;
using coordinator::SyncEvent;

const char* role_label(Role role) {
  switch (role) {
    case Role::primary:
      return "Primary Coordinator";
    case Role::secondary:
      return "Secondary";
    case Role::uncoordinated:
      break;
  }
  return "Uncoordinated";
}

const char* event_name(const SyncEvent& event) {
  return event.kind == SyncEvent::Kind::started ? event::sync_started : event::sync_done;
}

nlohmann::json event_data(const SyncEvent& event) {
  nlohmann::json data = {{"instance_id", event.instance_id},
                         {"trigger", to_string(event.trigger)},
                         {"started", event.started}};
  if (!event.channels.empty()) {
    data["channels"] = event.channels;
  }
  if (event.kind == SyncEvent::Kind::done) {
    data["outcome"] = to_string(event.outcome);
    data["duration"] = event.duration;
    data["message"] = event.message;
    if (event.new_messages) {
      data["new_messages"] = *event.new_messages;
    }
  }
  return data;
}

nlohmann::json role_changed_data(const std::string& role, const std::string& previous) {
  return {{"role", role}, {"previous", previous}};
}

nlohmann::json sync_state(const coordinator::Status& status) {
  bool syncing = status.running_sync.has_value();
  for (const auto& c : status.channels) {
    syncing = syncing || c.running.has_value();
  }
  nlohmann::json state = {{"role", role_label(status.role)}, {"syncing", syncing}};
  if (status.last_sync) {
    state["last_started"] = status.last_sync->time;
    if (status.last_result && status.last_result->started == status.last_sync->time) {
      state["outcome"] = to_string(status.last_result->outcome);
    }
  }
  return state;
}

}  // namespace himalaya::host
