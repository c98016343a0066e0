// The `:HimalayaSyncStatus` report (SPEC §4), rendered from plain facts.
//
// Rendering is a pure function so that the exact labels, their order and the
// duration wording are checked against golden lines in unit tests. Sections
// whose facts are absent are left out entirely rather than filled with
// placeholders: the report never shows anything it does not know.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace himalaya::host {

struct PrimaryFacts {
  std::string instance_id;
  int pid = 0;
  double heartbeat_age = 0;  // seconds since this instance saw the heartbeat change
  bool active = true;        // false: Stale
};

struct LastSyncFacts {
  double age = 0;  // seconds since the last sync started
  std::string instance_id;
};

struct InstanceFacts {
  std::string instance_id;
  std::string role;  // "primary", "secondary" or "suspended"
  std::string hostname;
  int pid = 0;               // the Neovim pid
  double heartbeat_age = 0;  // seconds since its last heartbeat (its wall stamp)
};

struct LastResultFacts {
  std::string outcome;  // "ok", "failed", "timed_out" or "cancelled"
  double age = 0;       // seconds since it ended
  std::string instance_id;
  std::string message;  // empty for ok
};

struct CoordinationFacts {
  std::optional<PrimaryFacts> primary;      // empty: "No primary coordinator"
  std::optional<LastSyncFacts> last_sync;   // empty: "Never"
  double cooldown_remaining = 0;            // <= 0: "Ready"
  std::optional<std::string> running_sync;  // the instance running one now
  std::vector<InstanceFacts> instances;     // the "## Instances" section
  std::optional<LastResultFacts> last_result;
};

struct StatusFacts {
  std::string instance_id;
  std::string role;  // "Primary Coordinator", "Secondary" or "Uncoordinated"
  int nvim_pid = 0;
  // Absent until the coordinator has read the state file at least once.
  std::optional<CoordinationFacts> coordination;
};

// "N second(s)" under a minute, "N minute(s)" under an hour, else "N hour(s)";
// rounded down, singular for 1. Negative input reads as 0 seconds.
std::string format_duration(double seconds);

// The SPEC §4 sections, then "## Instances" (live instances) and
// "## Last Result" when those facts are known.
std::vector<std::string> render_status(const StatusFacts& facts);

}  // namespace himalaya::host
