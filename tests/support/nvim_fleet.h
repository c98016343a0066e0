// A fleet of real headless Neovims (NvimProcess) whose hosts coordinate
// through one shared directory: the common part of the end-to-end, mail and
// chaos fleets. Each Neovim has its own TestHome (XDG directories, socket,
// host log); the shared directory holds the state file and the sync lock
// file.
//
// The fleet does not decide what a Neovim runs: add() asks the caller for
// the new instance's init.lua, after that instance's home exists, so the
// caller can build it from host_setup(i) (the paths filled in) with its own
// sync command and intervals. start() adds a fixed count and waits until
// every host is ready; a dynamic pool (the chaos test) calls add(),
// wait_ready() and query_host_pid() itself, so that it can do its own work
// between short waits. The recorded hosts' pids let stop() wait until they
// are gone.
//
// Instance i is labelled "nvim<i+1>" in messages. An instance stays in the
// fleet after it exits (indices never change); a test that makes one exit
// (:qa, a signal) calls mark_gone(i), and primary() then no longer asks it.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tests/support/host_setup.h"
#include "tests/support/nvim_process.h"

namespace himalaya::testing {

// status().instance.role of a primary and of a secondary.
inline constexpr const char* primary_role = "Primary Coordinator";
inline constexpr const char* secondary_role = "Secondary";

class NvimFleet {
 public:
  // The init.lua text of instance i, run after the repository is put on
  // 'runtimepath' (TestHome::write_init).
  using InitLua = std::function<std::string(std::size_t i)>;

  NvimFleet() = default;
  // Stops the fleet (stop()).
  ~NvimFleet();
  NvimFleet(const NvimFleet&) = delete;
  NvimFleet& operator=(const NvimFleet&) = delete;

  // Starts `count` Neovims (add), then waits until each host is ready
  // (wait_ready, at most `ready_timeout` each) and records its pid
  // (query_host_pid). Reports a failure and returns false if one is not.
  bool start(int count, const InitLua& init_lua,
             std::chrono::milliseconds ready_timeout = std::chrono::seconds(5));
  // Creates the next instance's home, writes init_lua(i) there and starts its
  // Neovim; returns i. Does not wait for its host.
  std::size_t add(const InitLua& init_lua);
  // Waits up to `timeout` until instance i's host is ready (the Lua side's
  // wait_ready); false if it is not by then.
  bool wait_ready(std::size_t i, std::chrono::milliseconds timeout);
  // Kills every Neovim (its process group, so its host too) and waits until
  // their hosts (and so their syncs) are gone, so that nothing writes to the
  // directories once they are removed. A host still running after 5 s fails
  // the test.
  void stop();

  // Variables ("NAME=value") added to the environment of every Neovim (and
  // so its host) that add() starts from now on.
  void set_environment(std::vector<std::string> environment) {
    environment_ = std::move(environment);
  }

  std::size_t size() const { return nvims_.size(); }
  NvimProcess& nvim(std::size_t i) { return *nvims_.at(i); }
  pid_t host_pid(std::size_t i) const { return host_pids_.at(i); }
  // Asks Neovim i once for its current host's pid and records it; -1 (not
  // recorded) while there is no ready host, e.g. while the Lua side restarts
  // a host that died.
  pid_t query_host_pid(std::size_t i);
  // After the Lua side restarted instance i's host: waits until a ready host
  // other than the recorded one answers query_host_pid(i), and returns its
  // pid, or -1 if none does within `timeout`.
  pid_t refresh_host_pid(std::size_t i, std::chrono::milliseconds timeout);
  // False once the test made instance i exit and said so with mark_gone(i).
  bool alive(std::size_t i) const { return alive_.at(i); }
  void mark_gone(std::size_t i) { alive_.at(i) = false; }

  // "nvim1", "nvim2", ...: instance i in messages.
  static std::string label(std::size_t i) { return "nvim" + std::to_string(i + 1); }

  // A HostSetup with the binary (the host built with the tests), instance
  // i's state file, log file and lock file filled in; the rest is the
  // caller's.
  HostSetup host_setup(std::size_t i) const;

  std::string instance_id(std::size_t i);
  // status().instance.role, or "error: ..." if the host does not answer.
  std::string role(std::size_t i);
  // status_lines(): the report of :HimalayaCoordStatus.
  std::vector<std::string> status_lines(std::size_t i);
  // The index of the one live instance whose role is primary; nothing if
  // none or several are.
  std::optional<std::size_t> primary();

  std::filesystem::path shared_dir() const { return shared_.dir; }
  std::filesystem::path state_file() const { return shared_.dir / "state/sync_coordinator.json"; }
  std::filesystem::path lock_file() const { return shared_.dir / "mbsync.lock"; }
  std::filesystem::path log_file(std::size_t i) const { return homes_.at(i)->log_file(); }
  // Instance i's own directory, for a caller's per-instance files.
  std::filesystem::path home_dir(std::size_t i) const { return homes_.at(i)->dir; }
  // The last `lines` lines of instance i's host log (for a failing test's
  // message).
  std::string log_tail(std::size_t i, std::size_t lines = 30) const;
  // The host logs of every instance, each headed by its index.
  std::string log_tails(std::size_t lines = 30) const;

 private:
  // Destroyed last: the Neovims go first, then their homes, then this.
  TestHome shared_;
  std::vector<std::unique_ptr<TestHome>> homes_;
  std::vector<std::unique_ptr<NvimProcess>> nvims_;
  std::vector<pid_t> host_pids_;
  std::vector<bool> alive_;
  std::vector<std::string> environment_;
};

}  // namespace himalaya::testing
