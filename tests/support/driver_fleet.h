// A fleet of coord-driver processes (tests/coordinator/coord_driver.cpp) for
// the coordinator's multi-process tests and coord-bench: each driver is a
// ChildProcess whose event lines ("ready ...", "role ...", "sync-start ...")
// are collected and parsed into its last reported role, and the fleet waits
// for conditions on them with deadlines, reading the drivers' output while it
// waits.
//
// A driver's role_mono is the CLOCK_MONOTONIC reading the driver printed, the
// same clock as mono_now() (clock.h), so a test can time a takeover across
// processes.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/child_process.h"

namespace himalaya::testing {

struct Driver {
  explicit Driver(const std::vector<std::string>& argv, bool own_process_group)
      : process(argv, own_process_group) {}

  pid_t pid() const { return process.pid(); }
  bool eof() const { return process.eof(); }
  int wait_status() const { return process.wait_status(); }

  ChildProcess process;
  std::string id;
  std::string role;      // last role reported
  double role_mono = 0;  // when it was reported (the driver's CLOCK_MONOTONIC)
  bool ready = false;
  std::vector<std::string> lines;  // every line it printed, in order
  int times_primary = 0;           // how often it reported the primary role
};

class DriverFleet {
 public:
  DriverFleet(std::string driver_path, std::filesystem::path state_file)
      : driver_(std::move(driver_path)), state_file_(std::move(state_file)) {}
  DriverFleet(const DriverFleet&) = delete;
  DriverFleet& operator=(const DriverFleet&) = delete;

  // Starts a driver on the fleet's state file with the arguments `extra`.
  // wrapper, if given, is a command line the driver is run under (e.g.
  // {"unshare", "-u", ...}); it must exec the driver, whose argv it is
  // prepended to. A wrapped driver leads its own process group, so a test can
  // signal the wrapper and the driver together with kill(-pid, ...).
  Driver& spawn(const std::vector<std::string>& extra,
                const std::vector<std::string>& wrapper = {});

  // Reads whatever the drivers printed, waiting up to timeout_ms for output.
  void pump(int timeout_ms);

  // Pumps until done() holds or `seconds` pass; returns whether it held.
  bool wait_until(const std::function<bool()>& done, double seconds);

  void reap(Driver& d) { d.process.reap(); }
  bool try_reap(Driver& d) { return d.process.try_reap(); }

  // Drivers that are still running (not killed or exited).
  std::vector<Driver*> alive();
  // The live drivers whose last reported role is primary.
  std::vector<Driver*> primaries();
  // The state file's primary instance id; "" if none or unreadable.
  std::string file_primary() const;
  // Exactly one live driver says primary, all others say secondary, and the
  // file names the same one.
  bool agreed();

  std::vector<std::unique_ptr<Driver>>& drivers() { return drivers_; }
  const std::filesystem::path& state_file() const { return state_file_; }

 private:
  void handle(Driver& d, const std::string& line);

  std::string driver_;
  std::filesystem::path state_file_;
  std::vector<std::unique_ptr<Driver>> drivers_;
};

// Lets the fleet's event lines flow for `seconds`.
void pump_for(DriverFleet& fleet, double seconds);

// SIGSTOPs `target` (a pid, or -pgid) at a moment when `stopped` (the driver
// process itself) does not hold the state file's lock, and returns the
// monotonic time the signal was sent; 0 if 50 attempts all caught it inside
// the lock. The others move past a stopped lock holder by replacing the lock
// file (lock_holder.h), which is another test's matter; the tests that stop a
// primary to see a takeover must not depend on it.
double stop_outside_state_lock(DriverFleet& fleet, pid_t target, pid_t stopped,
                               const std::filesystem::path& lock_path);

// The q-quantile of `v` (0 <= q <= 1; the largest for q = 1), 0 when empty.
double percentile(std::vector<double> v, double q);

}  // namespace himalaya::testing
