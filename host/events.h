// The editor's view of the fleet (SPEC §9): the data tables of the `User`
// autocmds HimalayaSyncStarted, HimalayaSyncDone and HimalayaRoleChanged, and
// the facts statusline() shows, built from the coordinator's by pure
// functions so their exact keys are unit-tested.
//
// Keys whose value is unknown or does not apply are left out, so Lua sees
// nil: `channels` (SPEC §11: the channel a sync ran, as a list of one; nil
// for the whole command) and `new_messages` (known only when the sync
// command is mbsync and its configuration can be read: new_mail.h).
#pragma once

#include <nlohmann/json.hpp>

#include "coordinator/coordinator.h"

namespace himalaya::host {

// "Primary Coordinator", "Secondary" or "Uncoordinated" (SPEC §4).
const char* role_label(coordinator::Role role);

// event::sync_started or event::sync_done (protocol.h).
const char* event_name(const coordinator::SyncEvent& event);

// {instance_id, trigger, started, channels (when a channel ran)} and, when
// done, {outcome, duration, message} and new_messages when it is known.
nlohmann::json event_data(const coordinator::SyncEvent& event);

// {role, previous}, both labels.
nlohmann::json role_changed_data(const std::string& role, const std::string& previous);

// What statusline() needs to start from when the host starts: {role,
// syncing (the whole command or any channel), last_started (absent: never), outcome (of that last
// sync; absent while unknown)}. Afterwards the events keep the Lua side's copy current.
nlohmann::json sync_state(const coordinator::Status& status);

}  // namespace himalaya::host
