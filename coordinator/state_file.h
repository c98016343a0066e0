// The shared state file: one JSON object, read and changed by every instance.
//
// Contract (SPEC §7, NOTES "Files, locks and processes"):
// - Every read-modify-write holds an exclusive flock(2) on `<state_file>.lock`,
//   a file that is never renamed or deleted, except to move past a stopped
//   holder (below). flock is released by the kernel when the holder dies,
//   even on SIGKILL.
// - The lock wait is bounded (Options::lock_timeout): the lock is polled with
//   LOCK_NB and a short back-off, so a stuck holder cannot hang the caller,
//   which runs on Neovim's host event loop. A timeout is an Error, not a hang.
// - A holder on this host that is *stopped* (SIGSTOP) does not make waiters
//   time out: once the lock has been busy for 50 ms with no write published
//   meanwhile, a waiter asks the kernel who holds it (/proc/locks) and, if
//   every thread of that process is stopped, fences its unpublished write and
//   replaces the lock file with a new one, a new lock generation. The frozen
//   writer's late rename then fails and it redoes its update under the new
//   lock, so it can never publish a stale state. The protocol and the
//   argument are in lock_holder.h.
// - A write goes to a temporary file in the same directory, is fsynced,
//   renamed over the state file, and the directory is fsynced (after the lock
//   is released: see Options::defer_directory_sync). A reader
//   without the lock therefore sees the old or the new file, never a torn one.
// - Files are created 0600; a missing directory is created 0700 (with its
//   missing parents). Every open uses O_NOFOLLOW|O_CLOEXEC: a spawned sync
//   never inherits a descriptor, and a symlink as the state or lock file is
//   refused, as is a file owned by another uid or one that is not regular.
// - update() refuses a directory (the state file's or any above it) that
//   another user could rename entries in: owned by someone other than this
//   user or root, or writable by others (or by a foreign group) without the
//   sticky bit. See check_directory_safe() in the .cpp for the reasoning.
// - If the lock file is deleted or replaced while held, the lock guards
//   nothing; update() notices (the name no longer names the locked inode,
//   checked after locking and before the publishing rename, or the temporary
//   file was fenced away before that rename) and redoes the whole
//   read-modify-write under a lock on the new file.
// - A corrupt file (invalid JSON, wrong types, truncated, larger than
//   Options::max_bytes) is renamed to `<state_file>.corrupt-<unix time>` and
//   the update starts from an empty State. An empty (zero-byte) file is not
//   corrupt: it reads as an empty State, like a missing one, and is simply
//   rewritten. Nothing the file holds can throw out of this class.
// - When an update changes who holds the primary lease, or starts or ends a
//   sync (DoorbellFacts, sync_events.h), the lock file's times are touched
//   before the lock is released. Watchers of the directory see that as
//   IN_ATTRIB on the lock file: a doorbell rung for role changes and syncs
//   only, so heartbeat writes do not wake every instance (see watch.h).
// Not thread-safe: use one StateFile per thread. Processes need no more care.
#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>

#include "coordinator/clock.h"
#include "coordinator/result.h"
#include "coordinator/state.h"
#include "coordinator/state_store.h"

namespace himalaya::coordinator {

class StateFile final : public StateStore {
 public:
  struct Options {
    std::size_t max_bytes = std::size_t{1024} * 1024;
    double lock_timeout = 1.5;  // seconds
    // The directory fsync that makes a rename durable costs more than the
    // write itself on ext4 (~8 ms against ~4 ms here), and nothing but
    // durability depends on it, so it always runs after the lock is released.
    // With this set, update() leaves it to the caller, who calls
    // sync_directory() once it has acted on the result (the coordinator does,
    // to keep it out of failover latency).
    bool defer_directory_sync = false;
  };

  // clock (for the stamps written: created, last_modified, corrupt-<time>)
  // may be null: SystemClock.
  explicit StateFile(std::filesystem::path path);
  StateFile(std::filesystem::path path, Options options, std::shared_ptr<const Clock> clock);

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path lock_path() const;

  // Reads the file without the lock (safe: writes are atomic renames). A
  // missing file gives an empty State; a corrupt one an Error of kind corrupt,
  // and the file is left alone for the next update() to move aside.
  Result<State> read() const override;

  // Read-modify-write under the lock. If the file was corrupt, the mutation
  // sees an empty State and the result is always written. The mutation may
  // run more than once (after the lock file was replaced); only the last
  // run's state is written. A wait cut short is an Error of kind lock_timeout.
  Result<Update> update(const Mutation& mutate, const KeepWaiting& keep_waiting) override;
  Result<Update> update(const Mutation& mutate) { return update(mutate, {}); }

  // Fsyncs the directory if an update left that pending (see Options).
  void sync_directory() override;

 private:
  std::filesystem::path path_;
  Options options_;
  std::shared_ptr<const Clock> clock_;
  bool directory_sync_pending_ = false;
};

}  // namespace himalaya::coordinator
