// The host's configuration, as handed over by the Lua side with --config.
//
// The Lua side validates the user's options (SPEC §3) and passes a fully
// resolved JSON object: every default filled in and every path absolute.
// parse_config() still checks every field it reads, so a hand-started host or a
// mismatched plugin version gets one clear message naming the key instead of
// undefined behaviour.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "coordinator/channels.h"
#include "coordinator/timings.h"

namespace himalaya::host {

struct CoordinationConfig {
  bool enabled = true;
  double priority = 0;  // SPEC §11: the succession's first criterion
};

// sync.push (SPEC §10); its min_gap is Timings::push_min_gap.
enum class PushMode { automatic, on, off };  // enabled = 'auto', true, false
const char* to_string(PushMode mode);        // "auto", "true", "false"

struct PushConfig {
  PushMode mode = PushMode::automatic;
  std::string mbsyncrc;  // absolute; "" when not configured
  std::vector<std::string> mailboxes{"INBOX"};
};

struct SyncConfig {
  bool auto_sync = true;
  std::vector<std::string> command{"mbsync", "-a"};
  std::filesystem::path lock_file;
  CoordinationConfig coordination;
  PushConfig push;
  // sync.channels and sync.max_parallel (SPEC §11); no specs: the plain command.
  coordinator::ChannelSettings channels;
};

struct HostConfig {
  std::string instance_id;  // nvim_<unix seconds at start>_<nvim pid>
  int nvim_pid = 0;
  std::string nvim_version;
  bool debug = false;
  std::filesystem::path state_file;
  std::filesystem::path log_file;
  SyncConfig sync;
  // sync.interval, sync.startup_delay, sync.timeout, sync.push.min_gap,
  // sync.away (after: 0 when false) and
  // the durations of sync.coordination.
  coordinator::Timings timings;
};

struct ConfigResult {
  std::optional<HostConfig> config;
  std::string error;  // set when config is empty: "<dotted.key>: <problem>"
};

ConfigResult parse_config(std::string_view json_text);

}  // namespace himalaya::host
