// What the push watcher is doing (SPEC §10), as the status report shows it.
// The watcher process (push/) fills it in; the host receives it through
// push_wire.h and renders it with push_status.h.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace himalaya::host {

struct PushStatus {
  enum class State { off, connecting, idling, reconnecting };
  State state = State::off;
  std::string why;                     // when off
  double retry_in = 0;                 // when reconnecting: seconds until the next attempt
  std::vector<std::string> servers;    // "host:port", each once; empty when unknown
  std::vector<std::string> mailboxes;  // each once
  std::optional<double> last_event;    // wall clock of the last change the server reported
};

const char* to_string(PushStatus::State state);  // "off", "connecting", "idling", "reconnecting"
// The state named by to_string(); nullopt for any other text.
std::optional<PushStatus::State> push_state_named(const std::string& name);

}  // namespace himalaya::host
