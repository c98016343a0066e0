// The `## Push` section of the status report and its facts in the status JSON
// (SPEC §10), from one PushStatus, as pure functions (like status_report.h).
//
//   ## Push
//     State: Idling | Connecting | Reconnecting in 12 seconds | Off (<why>)
//     Server: imap.example.org:993          (absent when unknown)
//     Mailboxes: INBOX, Lists               (absent when none)
//     Last Event: 3 seconds ago | Never
//
// JSON: {state, why (off), retry_in (reconnecting), server (the first, when
// known), servers, mailboxes, last_event_age (absent: none yet)}.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "host/push_watcher.h"

namespace himalaya::host {

// The section, starting with its empty separator line; `now` is the wall clock.
std::vector<std::string> render_push(const PushStatus& push, double now);
nlohmann::json push_json(const PushStatus& push, double now);

}  // namespace himalaya::host
