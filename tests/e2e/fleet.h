// The fleet harness of the end-to-end tests: several real headless Neovims
// sharing one state file, lock file and sync log, with readers for that log
// and for the hosts' records in the state file.
//
// Every Neovim of a fleet has its own TestHome (XDG directories, socket, host
// log) and shares one directory with the others, which holds the state file,
// the sync lock file and the sync log. The default sync command is
// tests/e2e/fake_sync.sh, which appends "start <label> <time>" and
// "end <label> <time>" to the sync log; each Neovim passes its own label
// (nvim1, nvim2, ...) in its own command argv, so the log says which instance
// ran each sync. Times in the log are the wall clock (`date +%s.%N`), the
// same clock as system_clock here and as the host's records in the state file.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/clock.h"
#include "tests/support/host_setup.h"
#include "tests/support/nvim_process.h"
#include "tests/support/shared_state.h"
#include "tests/support/sync_log.h"

namespace himalaya::e2e {

using testing::as_strings;
using testing::describe;
using testing::HostSetup;
using testing::lua_number;
using testing::lua_quote;
using testing::NvimProcess;
using testing::process_gone;
using testing::read_sync_log;
using testing::setup_lua;
using testing::SyncRun;
using testing::TestHome;
using testing::wait_until;
using testing::wall_now;
using namespace std::chrono_literals;

inline constexpr const char* primary_role = "Primary Coordinator";
inline constexpr const char* secondary_role = "Secondary";

// vim.log.levels
inline constexpr int level_debug = 1;
inline constexpr int level_info = 2;
inline constexpr int level_warn = 3;

// A duration as a short decimal, for sleep(1).
inline std::string seconds_arg(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", value);
  return text;
}

inline std::string joined(const std::vector<std::string>& lines) {
  std::string text;
  for (const auto& l : lines) {
    text += l + "\n";
  }
  return text;
}

// The schedule as the hosts record it: last_sync_time (the wall time at which
// the last sync started, SPEC §5) and the instance that ran it.
struct LastSync {
  double time = 0;
  std::string instance;
};

inline std::optional<LastSync> read_last_sync(const std::filesystem::path& state_file) {
  // Writers replace the file by rename, so a reader sees a whole file.
  const auto state = testing::read_shared_state(state_file);
  if (!state || !(state->last_sync_time > 0)) {
    return std::nullopt;  // unreadable, or no sync yet
  }
  return LastSync{state->last_sync_time, state->last_sync_instance};
}

// Every sync start the hosts record (last_sync_time, with its instance),
// collected by polling the state file. The poller could only miss a start if
// two came within one poll (a few ms) of each other.
class StartRecorder {
 public:
  explicit StartRecorder(std::filesystem::path state_file) : state_file_(std::move(state_file)) {}
  void poll() {
    auto last = read_last_sync(state_file_);
    if (last && (starts_.empty() || starts_.back().time != last->time)) {
      starts_.push_back(*last);
    }
  }
  const std::vector<LastSync>& starts() const { return starts_; }

 private:
  std::filesystem::path state_file_;
  std::vector<LastSync> starts_;
};

struct Note {
  int level = -1;
  std::string message;
};

inline std::string describe(const std::vector<Note>& notes) {
  std::string out;
  for (const auto& n : notes) {
    out += "  [" + std::to_string(n.level) + "] " + n.message + "\n";
  }
  return out;
}

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
};

// A fleet of Neovims sharing one state file, lock file and sync log. Each
// Neovim records its vim.notify calls in _G.notes, from before setup().
class Fleet {
 public:
  Fleet() = default;
  ~Fleet() { stop(); }
  Fleet(const Fleet&) = delete;
  Fleet& operator=(const Fleet&) = delete;

  // Starts `count` Neovims and waits until each host is ready. Reports a
  // failure and returns false if one is not.
  bool start(int count, const FleetOptions& options) {
    for (int i = 0; i < count; ++i) {
      homes_.push_back(std::make_unique<TestHome>());
      homes_.back()->write_init(init_lua(static_cast<std::size_t>(i), options));
      nvims_.push_back(std::make_unique<NvimProcess>(*homes_.back()));
    }
    for (std::size_t i = 0; i < nvims_.size(); ++i) {
      if (!nvims_[i]->lua_bool("return require('himalaya_coord').wait_ready(5000)")) {
        ADD_FAILURE() << label(i) << ": the host did not become ready";
        return false;
      }
      host_pids_.push_back(static_cast<pid_t>(
          nvims_[i]->lua_int("return vim.fn.jobpid(require('himalaya_coord').host_job())")));
    }
    return true;
  }

  // Kills the Neovims and waits until their hosts (and so their syncs) are
  // gone, so that nothing writes to the directories once they are removed.
  void stop() {
    nvims_.clear();
    for (pid_t host : host_pids_) {
      if (host > 0) {
        EXPECT_TRUE(wait_until([&] { return process_gone(host); }, 5s))
            << "host " << host << " is still running";
      }
    }
    host_pids_.clear();
  }

  std::size_t size() const { return nvims_.size(); }
  pid_t host_pid(std::size_t i) const { return host_pids_.at(i); }
  NvimProcess& nvim(std::size_t i) { return *nvims_.at(i); }
  static std::string label(std::size_t i) { return "nvim" + std::to_string(i + 1); }
  std::filesystem::path sync_log() const { return shared_.dir / "sync.log"; }
  std::filesystem::path state_file() const { return shared_.dir / "state/sync_coordinator.json"; }
  std::filesystem::path shared_dir() const { return shared_.dir; }

  std::string instance_id(std::size_t i) {
    return nvim(i).lua_string("return require('himalaya_coord').instance_id()");
  }
  // status().instance.role, or "error: ..." if the host does not answer.
  std::string role(std::size_t i) {
    return nvim(i).lua_string(
        "local s, err = require('himalaya_coord').status(2000) "
        "return s and s.instance and s.instance.role or ('error: ' .. tostring(err))");
  }
  std::vector<std::string> status_lines(std::size_t i) {
    return as_strings(nvim(i).lua("return require('himalaya_coord').status_lines(2000)"));
  }
  // The label of the one instance whose role is primary; "" if there is not
  // exactly one.
  std::string primary_label() {
    std::string found;
    int primaries = 0;
    for (std::size_t i = 0; i < size(); ++i) {
      if (role(i) == primary_role) {
        found = label(i);
        ++primaries;
      }
    }
    return primaries == 1 ? found : "";
  }
  std::vector<Note> notes(std::size_t i) {
    std::vector<Note> out;
    for (const std::string& entry : as_strings(
             nvim(i).lua("local out = {} for _, n in ipairs(_G.notes) do "
                         "table.insert(out, tostring(n.level) .. ' ' .. n.msg) end return out"))) {
      Note note;
      std::size_t space = entry.find(' ');
      try {
        note.level = std::stoi(entry.substr(0, space));
      } catch (const std::exception&) {
        note.level = -1;  // level was nil or not a number
      }
      note.message = space == std::string::npos ? "" : entry.substr(space + 1);
      out.push_back(note);
    }
    return out;
  }

 private:
  std::string init_lua(std::size_t i, const FleetOptions& o) const {
    std::string command =
        !o.command.empty()
            ? o.command
            : "{'/bin/sh', " +
                  lua_quote(std::string(HIMALAYA_SOURCE_DIR) + "/tests/e2e/fake_sync.sh") + ", " +
                  lua_quote(sync_log().string()) + ", " + lua_quote(label(i)) + ", " +
                  lua_quote(seconds_arg(o.sync_seconds)) + "}";
    HostSetup setup;
    setup.binary = HIMALAYA_HOST_BINARY;
    setup.debug = o.debug;
    setup.state_file = state_file();
    setup.log_file = homes_.at(i)->log_file();
    setup.auto_sync = o.auto_sync;
    setup.interval = o.interval;
    setup.startup_delay = o.startup_delay;
    setup.command = command;
    setup.timeout = o.timeout;
    setup.lock_file = shared_.dir / "mbsync.lock";
    setup.heartbeat_interval = o.heartbeat_interval;
    setup.takeover_threshold = o.takeover_threshold;
    setup.sync_cooldown = o.sync_cooldown;
    return o.extra_lua + "\n" +
           "_G.notes = {}\n"
           "vim.notify = function(msg, level, opts)\n"
           "  table.insert(_G.notes, {msg = tostring(msg), level = level})\n"
           "end\n" +
           setup_lua(setup);
  }

  // Destroyed last: the Neovims go first, then their homes, then this.
  TestHome shared_;
  std::vector<std::unique_ptr<TestHome>> homes_;
  std::vector<std::unique_ptr<NvimProcess>> nvims_;
  std::vector<pid_t> host_pids_;
};

inline void sleep_until_wall(double wall) {
  double left = wall - wall_now();
  if (left > 0) {
    std::this_thread::sleep_for(std::chrono::duration<double>(left));
  }
}

}  // namespace himalaya::e2e
