// The contents of the shared state file, as plain values.
//
// The JSON object stays readable by the original Lua plugin (SPEC §7): it keeps
// `version`, `created`, `last_modified`, `last_sync_time`, `last_sync_instance`
// and `primary` {`instance_id`, `last_heartbeat`, `pid`, `nvim_version`}. New
// keys sit beside them: `instances`, `running_sync` and `last_result`. Keys
// this version does not know are kept as they were, so an older and a newer
// host can share one file. Times are Unix seconds and may be fractional.
//
// parse_state() never throws: anything that is not a JSON object whose known
// keys have the expected types is reported as Error::Kind::corrupt, and the
// caller (StateFile) moves the file aside and starts afresh.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "coordinator/result.h"

namespace himalaya::coordinator {

inline constexpr int state_schema_version = 2;

enum class SyncOutcome { ok, failed, timed_out, cancelled };
const char* to_string(SyncOutcome outcome);

// Why a sync ran: the timer, the user (:HimalayaSyncNow), or the server
// (push, SPEC §10: the primary's IMAP IDLE watcher saw the mailbox change).
// Key `trigger` of `running_sync` and `last_result`, "auto", "manual" or
// "push"; a record without it, or with a value this version does not know
// (written by another host version), reads as auto.
enum class SyncTrigger { automatic, manual, push };
const char* to_string(SyncTrigger trigger);

// One running host, registered under `instances`. Every instance refreshes its
// own record each heartbeat; the process facts let other instances on the same
// host and boot tell a dead process, or a reused pid, at once (liveness.h).
struct InstanceRecord {
  std::string instance_id;  // nvim_<unix seconds at start>_<nvim pid>
  std::string hostname;
  std::string boot_id;  // /proc/sys/kernel/random/boot_id
  int nvim_pid = 0;
  std::uint64_t nvim_start_ticks = 0;  // field 22 of /proc/<pid>/stat
  int host_pid = 0;
  std::uint64_t host_start_ticks = 0;
  double started_at = 0;      // wall time the instance started; the election's seniority
  double last_heartbeat = 0;  // wall stamp; only its changes matter to readers
  std::string nvim_version;
  bool released = false;  // suspended (VimSuspend): alive, but not a candidate for primary
  // coordination.priority (SPEC §11): the election's first criterion, before
  // seniority. Key `priority`, written only when not 0; absent reads as 0.
  double priority = 0;
  // Presence (SPEC §11 "Away", away.h). `last_input`: wall time of the last
  // key, mouse or focus event its Neovim reported (its start until then);
  // absent in records of older versions, which never count as away.
  // `session_away`: the desktop session is idle or locked (logind).
  // `returned`: wall time it last came back from away (0: never); its change
  // rings the doorbell, so the primary re-evaluates the schedule at once.
  std::optional<double> last_input = std::nullopt;
  bool session_away = false;
  double returned = 0;
};

// The primary's lease: the `primary` key of the original plugin. Exactly one
// such key exists, so at most one instance is primary at any time.
struct Lease {
  std::string instance_id;
  double last_heartbeat = 0;  // refreshed by the primary each heartbeat
  int pid = 0;                // the Neovim pid, as the Lua plugin wrote it
  std::string nvim_version;
};

// A sync that has started and not yet ended (`running_sync`).
//
// Once the host has spawned the sync command it records that process too
// (keys `sync_pid`, `sync_start_ticks`, `hostname`, `boot_id`; absent in files
// of older versions, and 0 or empty until then). A reader on the same host and
// boot can then tell that the sync is over when that process has exited, even
// if the instance that started it is frozen (SIGSTOP) and cannot record the
// end (schedule.h, running_sync_active()).
struct SyncRecord {
  SyncRecord() = default;
  SyncRecord(std::string instance, double started_at, int host_pid)
      : instance_id(std::move(instance)), started(started_at), pid(host_pid) {}

  std::string instance_id;  // key `instance`
  double started = 0;
  SyncTrigger trigger = SyncTrigger::automatic;
  int pid = 0;                         // the host pid of the instance running it
  int sync_pid = 0;                    // the sync command, which leads its own process group
  std::uint64_t sync_start_ticks = 0;  // field 22 of /proc/<sync_pid>/stat
  std::string hostname;                // of the host running it
  std::string boot_id;
};

// How the last sync ended (`last_result`).
struct SyncResult {
  std::string instance_id;  // key `instance`
  double started = 0;
  double ended = 0;
  SyncOutcome outcome = SyncOutcome::ok;
  std::string message;
  SyncTrigger trigger = SyncTrigger::automatic;
  // How many messages the sync added to the local Maildirs (SPEC §9), when
  // the host could tell from the mbsync configuration; key `new_messages`,
  // absent when unknown (and in files of older versions).
  std::optional<int> new_messages = std::nullopt;
  // The channel (sync.channels, SPEC §11) that ran, key `channel`; empty
  // (and absent) for the whole command. The top-level `last_result` of a
  // channel sync carries it, so its readers tell the two apart.
  std::string channel = {};
};

// The fleet's model of when mail arrives (sync.adaptive, SPEC §11; key
// `arrivals`, beside the old keys): per hour of the week in local time
// (0 = Monday 00:00-01:00), the messages the syncs fetched and the hours they
// covered, both exponentially decayed. Updated by learn_arrivals()
// (adaptive.h) at each sync's end; a malformed `arrivals` is dropped alone
// (the model is rebuilt), not the whole file.
struct ArrivalModel {
  static constexpr int buckets = 168;
  std::array<double, buckets> messages{};
  std::array<double, buckets> hours{};
  double through = 0;  // wall stamp: the start of the last sync the model accounted for
  // Messages per hour over the span of the last sync it learned from, when
  // that was far above what the hours predicted (a storm); else 0. Key
  // `recent`, absent means 0.
  double recent = 0;
};

// One channel of sync.channels (SPEC §11), key `channels.<name>`: its own
// schedule, running sync and result, and the instance that runs it
// (channels.h, assign_channels()). Absent for the plain `sync.command`. The
// top-level keys go on describing the fleet's latest sync of any kind, so the
// original plugin still reads the file.
struct ChannelRecord {
  std::string owner;          // instance id; empty: no live instance to run it
  double last_sync_time = 0;  // start of its last sync; 0: never
  // Push (SPEC §10 with §11): the wall time at which the primary's watcher
  // last saw a change in a mailbox this channel covers; key `pushed`, absent
  // when 0. A change after the channel's last start makes it due at once
  // (after push_min_gap), so a change during its sync gives one follow-up.
  double pushed = 0;
  std::optional<SyncRecord> running;
  std::optional<SyncResult> last_result;
};

struct State {
  double created = 0;
  double last_modified = 0;
  double last_sync_time = 0;  // start of the last sync; 0 means never (as in the Lua plugin)
  std::string last_sync_instance;
  std::optional<Lease> primary;
  std::map<std::string, InstanceRecord> instances;
  std::optional<SyncRecord> running_sync;
  std::optional<SyncResult> last_result;
  std::optional<ArrivalModel> arrivals;
  std::map<std::string, ChannelRecord> channels;
  // Keys this version does not know, each as its JSON text, written back as
  // they were.
  std::map<std::string, std::string> extra;
};

Result<State> parse_state(std::string_view text);
// Sorted keys, one line, invalid UTF-8 replaced. Never throws.
std::string serialize_state(const State& state);

}  // namespace himalaya::coordinator
