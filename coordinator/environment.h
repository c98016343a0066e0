// Everything the coordinator runtime needs from the world, behind one
// interface: the clocks, the process table, the state store, timers, a way to
// run something soon, and the two kernel notifications (a watched process
// exited; the state file's doorbell rang).
//
// The host uses AsioEnvironment (asio_environment.h): the system clocks, /proc,
// the flock'd state file, Asio timers, pidfd and inotify. The simulator and
// the virtual-time tests use one made of a simulated clock, an in-memory store
// and an event queue (sim/), so the same runtime runs days of a fleet in
// seconds.
//
// Callbacks: every callback given here runs later, on the runtime's thread,
// never from inside the call that registered it, and never after it was
// cancelled or replaced or its owner (the Timer, the Environment) destroyed.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "coordinator/clock.h"
#include "coordinator/identity.h"
#include "coordinator/state_store.h"

namespace himalaya::coordinator {

class Timer {
 public:
  virtual ~Timer() = default;
  // Replaces any earlier arming: `fire` runs once, `seconds` from now on the
  // monotonic clock (0 or less: as soon as the loop gets to it).
  virtual void arm(double seconds, std::function<void()> fire) = 0;
  virtual void cancel() = 0;
  virtual bool armed() const = 0;
};

class Environment {
 public:
  virtual ~Environment() = default;

  virtual const Clock& clock() const = 0;
  virtual const ProcessProbe& probe() const = 0;
  virtual StateStore& store() = 0;
  virtual std::unique_ptr<Timer> make_timer() = 0;
  virtual void post(std::function<void()> fn) = 0;

  // Calls on_exit once when process `pid` (of this host and boot) exits,
  // however it dies. Replaces the earlier watch; pid 0 cancels it. A process
  // that cannot be watched is left to the heartbeat (watched_pid() is then 0).
  virtual void watch_process(int pid, std::function<void()> on_exit) = 0;
  virtual int watched_pid() const = 0;
  // The same for a set of processes: the host processes of the channels'
  // owners on this host and boot (sync.channels, SPEC §11), so that the
  // channels of one that dies move within milliseconds. Replaces the earlier
  // set; an empty set cancels it. on_exit runs once per process that exits.
  virtual void watch_owners(const std::vector<int>& pids, std::function<void()> on_exit) = 0;
  // Calls on_ring each time the state store's doorbell rings (the lease
  // changed hands, a sync started or ended), until cancel_watches().
  virtual void watch_doorbell(std::function<void()> on_ring) = 0;
  virtual bool doorbell_watched() const = 0;
  virtual void cancel_watches() = 0;
};

}  // namespace himalaya::coordinator
