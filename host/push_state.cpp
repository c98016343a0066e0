#include "host/push_state.h"

namespace himalaya::host {

const char* to_string(PushStatus::State state) {
  switch (state) {
    case PushStatus::State::connecting:
      return "connecting";
    case PushStatus::State::idling:
      return "idling";
    case PushStatus::State::reconnecting:
      return "reconnecting";
    case PushStatus::State::off:
      break;
  }
  return "off";
}

std::optional<PushStatus::State> push_state_named(const std::string& name) {
  for (auto state : {PushStatus::State::off, PushStatus::State::connecting,
                     PushStatus::State::idling, PushStatus::State::reconnecting}) {
    if (name == to_string(state)) {
      return state;
    }
  }
  return std::nullopt;
}

}  // namespace himalaya::host
