// The fleet harness of the end-to-end tests: a testing::NvimFleet whose
// Neovims run the fake sync and record their notifications, with readers for
// the sync log and for the hosts' records in the state file.
//
// The shared directory also holds the sync log. The default sync command is
// tests/e2e/fake_sync.sh, which appends "start <label> <time>" and
// "end <label> <time>" to the sync log; each Neovim passes its own label
// (nvim1, nvim2, ...) in its own command argv, so the log says which instance
// ran each sync. Times in the log are the wall clock (`date +%s.%N`), the
// same clock as system_clock here and as the host's records in the state file.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/clock.h"
#include "tests/support/nvim_fleet.h"
#include "tests/support/nvim_process.h"
#include "tests/support/sync_log.h"

namespace himalaya::e2e {

using testing::as_strings;
using testing::describe;
using testing::lua_number;
using testing::lua_quote;
using testing::NvimProcess;
using testing::primary_role;
using testing::process_gone;
using testing::read_sync_log;
using testing::secondary_role;
using testing::SyncRun;
using testing::TestHome;
using testing::wait_until;
using testing::wall_now;
using namespace std::chrono_literals;

// vim.log.levels
inline constexpr int level_debug = 1;
inline constexpr int level_info = 2;
inline constexpr int level_warn = 3;

// A duration as a short decimal, for sleep(1).
std::string seconds_arg(double value);

// The lines, each ended by a newline (for failure messages).
std::string joined(const std::vector<std::string>& lines);

// The schedule as the hosts record it: last_sync_time (the wall time at which
// the last sync started, SPEC §5) and the instance that ran it.
struct LastSync {
  double time = 0;
  std::string instance;
};

// Nothing when the state file is unreadable or records no sync yet.
std::optional<LastSync> read_last_sync(const std::filesystem::path& state_file);

// Every sync start the hosts record (last_sync_time, with its instance),
// collected by polling the state file. The poller could only miss a start if
// two came within one poll (a few ms) of each other.
class StartRecorder {
 public:
  explicit StartRecorder(std::filesystem::path state_file) : state_file_(std::move(state_file)) {}
  void poll();
  const std::vector<LastSync>& starts() const { return starts_; }

 private:
  std::filesystem::path state_file_;
  std::vector<LastSync> starts_;
};

// One vim.notify call: its level (-1 when it was not a number) and message.
struct Note {
  int level = -1;
  std::string message;
};

std::string describe(const std::vector<Note>& notes);

struct FleetOptions {
  double interval = 1.0;
  double sync_cooldown = 0.8;
  double heartbeat_interval = 0.1;
  double takeover_threshold = 0.6;
  double startup_delay = 0.2;
  double timeout = 5;
  bool debug = false;
  double sync_seconds = 0.1;  // how long the fake sync runs
  // A Lua argv literal to use instead of the fake sync, for every instance.
  std::string command;
  bool auto_sync = true;
  // Lua run in each Neovim's init.lua before setup() (e.g. autocmds to record).
  std::string extra_lua;
  // coordination.priority of instance i (0 beyond the list).
  std::vector<double> priorities;
  std::optional<testing::AwaySetup> away;  // sync.away; the plugin's default when unset
  std::string channels;                    // sync.channels, a Lua literal; none when empty
  int max_parallel = 0;                    // sync.max_parallel; the default when 0
};

// A fleet of Neovims sharing one state file, lock file and sync log. Each
// Neovim records its vim.notify calls in _G.notes, from before setup().
class Fleet : public testing::NvimFleet {
 public:
  // Starts `count` Neovims and waits until each host is ready. Reports a
  // failure and returns false if one is not.
  bool start(int count, const FleetOptions& options);
  // Starts one more Neovim and returns its index; does not wait for its host
  // (wait_ready, query_host_pid).
  std::size_t add(const FleetOptions& options);

  std::filesystem::path sync_log() const { return shared_dir() / "sync.log"; }
  // The label of the one instance whose role is primary; "" if there is not
  // exactly one.
  std::string primary_label();
  // What instance i passed to vim.notify, in order.
  std::vector<Note> notes(std::size_t i);

 private:
  std::string init_lua(std::size_t i, const FleetOptions& options) const;
};

// Sleeps until the wall clock reads `wall` (returns at once if it is past).
void sleep_until_wall(double wall);

}  // namespace himalaya::e2e
