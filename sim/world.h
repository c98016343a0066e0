// The simulated world one fleet lives in (SPEC §13): one machine with a
// simulated clock, an event queue, a process table and the state store.
//
// Time: the queue runs on the machine's monotonic clock. Boottime and the wall
// clock are monotonic time plus offsets: a suspend moves both offsets (nothing
// runs, the monotonic clock stands still, as on a laptop), a wall-clock jump
// moves the wall offset only.
//
// Processes: each editor's host and each sync command is a process with a pid
// and a start time. A host may be stopped (SIGSTOP): the events it owns wait
// until it is continued, in their order. A process that exits wakes its pid
// watchers. Events owned by a dead process are dropped.
//
// The store: one State, changed by update() atomically (the mutation sees the
// latest state, its result is what the next reader sees), as the flock'd file
// is. A stalled lock holder (running, but descheduled inside its update)
// makes every other update within the stall fail with lock_timeout when the
// stall outlasts lock_timeout. (A holder SIGSTOPped inside its update is moved
// past by the waiters, coordinator/lock_holder.h: to the fleet that is an
// update that never happened, which is what a stop between events is here.) The doorbell rings when
// the lease holder or the sync record changes (DoorbellFacts), as StateFile's does.
//
// Everything is deterministic: ties in time run in the order they were
// scheduled.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <string>
#include <vector>

#include "coordinator/environment.h"
#include "coordinator/identity.h"
#include "coordinator/state.h"
#include "sim/rng.h"

namespace himalaya::sim {

namespace hc = himalaya::coordinator;

class World;

struct Process {
  std::uint64_t start_ticks = 0;
  bool alive = true;
  bool stopped = false;
  std::vector<std::function<void()>> held;  // events waiting for SIGCONT
};

class World {
 public:
  World();

  // Clocks.
  double mono() const { return mono_; }
  double boot() const { return mono_ + boot_offset_; }
  double wall() const { return mono_ + wall_offset_; }
  void suspend(double seconds);    // the machine sleeps: boot and wall move on
  void jump_wall(double seconds);  // someone sets the clock
  const hc::Clock& clock() const { return *clock_; }

  // Events. owner 0: the world's own (workload, checks); else a pid whose
  // stop holds them and whose death drops them. Returns a handle for cancel().
  using Handle = std::shared_ptr<bool>;
  Handle at(double mono, int owner, std::function<void()> fn);
  static void cancel(const Handle& handle);
  // Runs events until the queue is empty or the next one is later than `until`.
  void run_until(double until);
  // Runs the next event if it is due by `until` (else moves the clock to
  // `until`); false when there was none.
  bool step(double until);
  std::uint64_t events_run() const { return events_run_; }

  // Processes.
  int spawn();
  void exit(int pid);    // ends it (clean exit or SIGKILL alike)
  void stop(int pid);    // SIGSTOP
  void resume(int pid);  // SIGCONT
  bool alive(int pid) const;
  bool stopped(int pid) const;
  const hc::ProcessProbe& probe() const { return *probe_; }
  std::uint64_t start_ticks(int pid) const;
  // on_exit runs (as an event of `owner`) when pid exits, or soon if it has.
  Handle watch_exit(int pid, int owner, std::function<void()> on_exit);

  // The store.
  const hc::State& state() const { return state_; }
  hc::Result<hc::StateStore::Update> update(int writer, const hc::StateStore::Mutation& mutate);
  hc::Result<hc::State> read() const { return state_; }
  void stall_lock(int holder, double seconds, double lock_timeout);
  Handle watch_doorbell(int owner, std::function<void()> on_ring);
  // Rings it for every watcher (update() does, for its own writes).
  void ring_doorbell();
  // From now on each watcher (of the doorbell, or of a process's exit) wakes
  // up to `seconds` after the ring or the exit (uniform,
  // from its own stream of `seed`), instead of all at once in the order they
  // started watching: then who looks first after a change is random, as it
  // is for real processes. Off (0) by default.
  void set_wake_jitter(double seconds, std::uint64_t seed);
  std::uint64_t writes() const { return writes_; }

  // An Environment for the host process `pid`.
  std::unique_ptr<hc::Environment> environment(int pid);
  // The identity of an editor whose host process is `pid`, started now (its
  // Neovim's pid is pid + 100000, as no other process here has it).
  hc::Identity editor_identity(int pid) const;

 private:
  struct Event {
    double at;
    std::uint64_t seq;
    int owner;
    std::function<void()> fn;
    Handle live;
    bool operator>(const Event& o) const { return at != o.at ? at > o.at : seq > o.seq; }
  };
  void dispatch(Event& e);
  double wake_delay();  // of one watcher, after a ring or an exit

  double mono_ = 1000;
  double boot_offset_ = 0;
  double wall_offset_ = 1'800'000'000.0 - 1000;
  std::uint64_t seq_ = 0;
  std::uint64_t events_run_ = 0;
  std::priority_queue<Event, std::vector<Event>, std::greater<>> queue_;
  std::unique_ptr<hc::Clock> clock_;
  std::unique_ptr<hc::ProcessProbe> probe_;

  int next_pid_ = 100;
  std::map<int, Process> processes_;
  std::multimap<int, std::pair<int, std::pair<Handle, std::function<void()>>>> exit_watchers_;

  hc::State state_;
  std::uint64_t writes_ = 0;
  int stalled_holder_ = 0;
  double stall_until_ = 0;
  bool stall_fails_waiters_ = false;
  std::vector<std::pair<int, std::pair<Handle, std::function<void()>>>> doorbell_;
  double wake_jitter_ = 0;
  Rng wake_rng_{0};
};

}  // namespace himalaya::sim
