// The chaos test (issue #6, item 2): a fleet of real headless Neovims, each
// with the real host, sharing one state file at scaled intervals, under a
// seeded random schedule of faults:
//
//   kill_nvim   SIGKILL of a Neovim (its host sees EOF and exits)
//   kill_host   SIGKILL of a host alone (the Lua side restarts it; at most
//               host_kill_budget kills per Neovim a minute, under the Lua
//               side's restart limit of 5)
//   stop_short  SIGSTOP of a Neovim and its host, SIGCONT before
//               takeover_threshold
//   stop_long   the same, for longer than takeover_threshold
//   clean_exit  `:qa!`
//   restart     a new Neovim, to keep about M running
//
// Stops overlap with other faults. A third of the host kills and stops aim at
// the instance whose sync has just started.
//
// What is recorded, and how nothing is missed:
// - Syncs: the sync command (tests/chaos/chaos_sync.sh) appends `start`, and
//   `end` or `term` (SIGTERM: its host died or cancelled it) to one sync log,
//   keyed by its pid, with wall times. It also copies the host's own stamp of
//   the start (`last_sync_time`, written before the command is launched).
// - Role changes: every host logs each change of its role ("role: Secondary
//   -> Primary Coordinator") to its log file, flushed at once, so a SIGKILL
//   loses nothing and a SIGSTOP freezes the host's belief with the host. The
//   vim.notify record of the same lines (debug mode) is kept too, but it
//   misses the last changes of a Neovim that is killed or exits, so the host
//   logs are the record; at every check the last logged role of each host
//   must equal the role it reports.
//
// Invariants:
// (a) no two syncs overlap: each start comes after every earlier run's end;
// (b) sync starts are at least sync_cooldown apart, on the hosts' own stamps
//     (exact in JSON); 1 ms is allowed for the host reading its wall and boot
//     clocks separately (coordinator/schedule.h, SyncClock). A sync started
//     while its host was Uncoordinated has no stamp of its own; its start
//     line is used instead (see check_records());
// (c) after every quiet stretch of one takeover_threshold (no fault, every
//     process running, every host up), exactly one instance reports itself
//     primary, and it is the state file's primary.instance_id (read before
//     and after the roles). Checked every few seconds and at the end.
//
// A stop often freezes a host while it holds the state file's lock (each host
// writes the file every heartbeat). The others then wait for the lock, 1.5 s
// at a time, and turn Uncoordinated (SPEC §5) until the stopped host resumes;
// the test counts the warnings they show, and keeps resuming stopped
// instances on time while it waits for anything.
//
// The settings come from the environment (chaos_test.cpp).
//
// The instances live on one testing::NvimFleet (tests/support/nvim_fleet.h),
// which owns their Neovims and homes and the shared state and lock files; it
// keeps every instance ever started at its index, so the live and retired
// lists here are the test's own bookkeeping and refer to fleet indices. The
// sync log is in the fleet's shared directory, each instance's notification
// record (notes.log) in its home.
//
// The pieces: chaos_fleet.cpp starts, stops and resumes the instances,
// chaos_faults.cpp picks and injects the faults, chaos_checks.cpp checks the
// invariants and prints the figures, chaos_records.h reads the logs, and
// chaos_test.cpp runs the schedule.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/clock.h"
#include "tests/support/nvim_fleet.h"
#include "tests/support/nvim_process.h"
#include "tests/support/processes.h"

namespace himalaya::chaos {

// Scaled durations, with margins for a loaded 2-core machine and an ASan host.
struct Timing {
  double interval = 1.2;
  double sync_cooldown = 0.9;
  double heartbeat_interval = 0.1;
  double takeover_threshold = 0.6;
  double startup_delay = 0.3;
  // The host's sync timeout. The coordinator treats a running_sync record as
  // over after timeout + 1.5 s + takeover_threshold, which bounds how long a
  // frozen syncer can hold the fleet back.
  double sync_timeout = 3;
};

// The Lua side allows 5 restarts a minute; stay well under it.
inline constexpr int host_kill_budget = 3;
inline constexpr double host_kill_window = 60;

struct Settings {
  std::uint64_t seed = 0;
  double seconds = 60;
  int instances = 4;
  bool verbose = false;
};

inline std::string fixed(double value, int decimals = 3) {
  char text[48];
  std::snprintf(text, sizeof text, "%.*f", decimals, value);
  return text;
}

// A scheduled pause of the test (between faults, a quiet stretch), not a wait
// for a condition.
inline void sleep_for_seconds(double seconds) {
  if (seconds > 0) {
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  }
}

struct Instance {
  Instance() = default;
  Instance(const Instance&) = delete;
  Instance& operator=(const Instance&) = delete;
  ~Instance() {
    if (stopped && nvim) {  // never leave a frozen host behind
      testing::signal_child_of(nvim->pid(), host_pid, SIGCONT);
      nvim->kill(SIGCONT);
    }
  }

  std::size_t index = 0;                 // in the fleet
  testing::NvimProcess* nvim = nullptr;  // the fleet's, which outlives the instance
  std::string id;
  pid_t host_pid = -1;
  double sync_seconds = 0;
  bool stopped = false;
  double stopped_at = 0;         // mono
  double resume_at = 0;          // mono
  bool restart_pending = false;  // its host was killed; the Lua side restarts it
  pid_t killed_host = -1;
  double host_killed_at = 0;  // mono
  std::deque<double> host_kills;

  std::string label() const { return testing::NvimFleet::label(index); }
  bool running() const { return !stopped; }
};

enum class Fault { kill_nvim, kill_host, stop_short, stop_long, clean_exit, restart };
inline constexpr Fault all_faults[] = {Fault::kill_nvim, Fault::kill_host,  Fault::stop_short,
                                       Fault::stop_long, Fault::clean_exit, Fault::restart};
const char* fault_name(Fault f);

class Chaos {
 public:
  Chaos(Settings settings, Timing timing)
      : settings_(settings), timing_(timing), rng_(settings.seed) {
    ::unsetenv("TZ");
    ::tzset();
    origin_wall_ = testing::wall_now();
  }
  ~Chaos() {
    live_.clear();
    retired_.clear();
  }

  void run();

 private:
  // --- helpers ---
  double uniform(double lo, double hi) { return std::uniform_real_distribution<>(lo, hi)(rng_); }
  bool chance(double p) { return uniform(0, 1) < p; }
  template <typename T>
  T& pick(std::vector<T>& items) {
    return items[std::uniform_int_distribution<std::size_t>(0, items.size() - 1)(rng_)];
  }
  std::string when() const { return fixed(testing::wall_now() - origin_wall_); }
  void event(const std::string& text) {
    events_.push_back(when() + "  " + text);
    if (settings_.verbose) {
      std::printf("[chaos] %s\n", events_.back().c_str());
      std::fflush(stdout);
    }
  }
  void violation(const std::string& text) {
    violations_.push_back(when() + "  " + text);
    event("VIOLATION: " + text);
  }

  std::filesystem::path sync_log() const { return fleet_.shared_dir() / "sync.log"; }
  std::filesystem::path state_file() const { return fleet_.state_file(); }
  // Instance i's vim.notify record (init_lua()).
  std::filesystem::path notes_file(std::size_t i) const { return fleet_.home_dir(i) / "notes.log"; }
  std::string init_lua(std::size_t i, double sync_seconds) const;

  // --- fleet operations ---
  Instance* start_instance();
  void retire(std::size_t index);
  std::size_t index_of(const Instance* inst) const;
  void wait_hosts_gone(const std::vector<pid_t>& hosts, const std::string& what);
  void resume(Instance& inst);
  void resume_due();
  void poll_restarts();
  void wait_restarts();
  void idle_until(double mono);

  // --- faults ---
  bool inject(Fault fault);
  std::vector<Instance*> eligible(Fault fault);
  Instance* aim_at_new_sync(Fault fault);
  Instance* primary_instance();
  void kill_nvim(Instance& inst);
  void kill_host(Instance& inst);
  void stop(Instance& inst, double seconds, Fault kind);
  void clean_exit(Instance& inst);

  // --- checks ---
  void checkpoint(const std::string& why);
  void shut_down();
  void check_records();

  Settings settings_;
  Timing timing_;
  std::mt19937_64 rng_;
  double origin_wall_ = 0;
  testing::NvimFleet fleet_;  // declared before the instances: stopped after them
  std::vector<std::unique_ptr<Instance>> live_;
  std::vector<std::unique_ptr<Instance>> retired_;

  std::map<Fault, int> injected_;
  int aimed_ = 0;
  int checkpoints_ = 0;
  int record_mismatches_ = 0;
  int unexpected_host_exits_ = 0;
  double longest_host_exit_ = 0;
  std::vector<std::string> events_;
  std::vector<std::string> violations_;
};

}  // namespace himalaya::chaos
