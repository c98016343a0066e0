// The init.lua call that starts one Neovim's host in a test fleet: every fleet
// (end-to-end, mail, chaos) runs its Neovims with the same shape of
// require('himalaya_coord').setup({...}) and differs only in the values here.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace himalaya::testing {

// sync.push (SPEC §10), written out only when a fleet sets it.
struct PushSetup {
  std::string enabled = "false";  // a Lua literal: "false", "true" or "'auto'"
  std::vector<std::string> mailboxes{"INBOX"};
  double min_gap = 2;
};

// sync.away (SPEC §11), written out only when a fleet sets it.
struct AwaySetup {
  double after = 900;  // 0: `after = false`
  double interval = 3600;
};

struct HostSetup {
  std::string binary;         // the host executable
  std::optional<bool> debug;  // left out (the plugin's default) when unset
  std::filesystem::path state_file;
  std::filesystem::path log_file;
  bool auto_sync = true;
  double interval = 0;
  double startup_delay = 0;
  std::string command;  // a Lua argv literal, e.g. {'mbsync', '-a'}
  double timeout = 0;   // the sync command's timeout
  std::filesystem::path lock_file;
  double heartbeat_interval = 0;
  double takeover_threshold = 0;
  double sync_cooldown = 0;
  double priority = 0;            // coordination.priority, written out only when not 0
  std::optional<PushSetup> push;  // left out (the plugin's default) when unset
  std::optional<AwaySetup> away;  // left out (the plugin's default) when unset
  // sync.channels as a Lua list literal, and sync.max_parallel: written out
  // only when set (SPEC §11).
  std::string channels;
  int max_parallel = 0;
};

// Lua source text: require('himalaya_coord').setup({...}) with coordination
// enabled and the values of `setup`, ending in a newline.
std::string setup_lua(const HostSetup& setup);

}  // namespace himalaya::testing
