// Where the fleet's state lives: the read-modify-write that every coordinator
// decision is made in. StateFile (state_file.h) is the real one, a JSON file
// under flock; the simulator (sim/) keeps the state in memory, with the same
// atomicity: a mutation sees the latest state and its result is what the
// next reader sees.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include "coordinator/result.h"
#include "coordinator/state.h"

namespace himalaya::coordinator {

class StateStore {
 public:
  // What one update() did, for the caller's logs and for benchmarks.
  struct Update {
    State state;  // as written (or as read, if nothing was written)
    bool written = false;
    std::optional<std::filesystem::path> moved_aside;  // set if a corrupt file was moved aside
    std::string corrupt_reason;
    double lock_wait = 0;  // seconds spent waiting for the lock
    double lock_held = 0;  // seconds the lock was held
  };

  // The mutation: change the state in place and return true to write it back,
  // false to leave the store as it is. It runs with the lock held, so it must
  // be quick and must not call back into the store.
  using Mutation = std::function<bool(State&)>;

  // Asked while another process holds the lock, with the seconds waited so
  // far: the wait goes on while it returns true. Without one, the wait ends
  // after the store's own lock timeout. The coordinator shortens it for an
  // instance that is leaving (SPEC §8: the host is gone within a second).
  using KeepWaiting = std::function<bool(double waited)>;

  virtual ~StateStore() = default;

  // The current state without the lock; a missing store reads as an empty
  // State (created == 0).
  virtual Result<State> read() const = 0;
  // Read-modify-write under the lock. A wait cut short is an Error of kind
  // lock_timeout; the mutation may run more than once, the last run counts.
  virtual Result<Update> update(const Mutation& mutate, const KeepWaiting& keep_waiting) = 0;
  // Makes the last update durable, if it left that pending.
  virtual void sync_directory() = 0;
};

}  // namespace himalaya::coordinator
