// The status of SPEC §4 in the two forms the host gives the Lua side, both
// made from one coordinator::Status: the `:HimalayaSyncStatus` report as
// lines, and the same facts as a JSON object (status(), which :checkhealth
// reads; it never parses the lines).
//
// Both are pure functions so that the exact labels, their order, the duration
// wording and the JSON keys are checked in unit tests. Sections whose facts
// are absent are left out entirely rather than filled with placeholders: the
// report never shows anything it does not know.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "coordinator/coordinator.h"

namespace himalaya::host {

// "N second(s)" under a minute, "N minute(s)" under an hour, else "N hour(s)";
// rounded down, singular for 1. Negative input reads as 0 seconds.
std::string format_duration(double seconds);

// The SPEC §4 sections (## Sync History ends with "Interval: 15 minutes",
// and the policy that chose it in brackets, SPEC §11), then "## Instances" (live instances),
// "## Channels" (sync.channels) and "## Last Result" when those facts are known. `now` is the wall
// clock when `status` was taken: the last result's age is counted from its end stamp.
std::vector<std::string> render_status(const coordinator::Status& status, double now);

// Before the coordinator has started, the host knows only this instance: the
// report is "## Current Instance" alone, with the role Uncoordinated.
std::vector<std::string> render_status_before_start(const std::string& instance_id, int nvim_pid);

// The facts of render_status() as JSON, with its lines under "lines":
//   instance     {id, role (the report's label), pid}
//   primary      {instance_id, pid, heartbeat_age, active}          absent: none
//   last_sync    {instance_id, age}                                 absent: never
//   cooldown_remaining                                              0: Ready
//   interval     {seconds, reason: fixed | away | adaptive}         absent: no state yet
//   running_sync the instance id running a sync                     absent: none
//   last_result  {outcome, age, instance_id, message}               absent: none
//   instances    [{instance_id, role, hostname, pid, heartbeat_age}]
//   channels     [{name, interval, owner, last_sync_age, next_due,     absent: no sync.channels
//                  running (instance id), last_result (outcome)}]
// Ages are seconds. Before the coordinator has started, only instance and
// lines are present.
nlohmann::json status_json(const coordinator::Status& status, double now);
nlohmann::json status_json_before_start(const std::string& instance_id, int nvim_pid);

}  // namespace himalaya::host
