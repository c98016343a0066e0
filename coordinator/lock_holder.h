// Moving past a state-file lock whose holder is stopped (SIGSTOP, SIGTSTP, a
// debugger), so that one frozen host cannot leave the whole fleet
// Uncoordinated (issue 12). StateFile::update() calls this while it waits.
//
// Who holds the lock. The kernel says so: /proc/locks lists every flock(2)
// on this machine with the pid that took it and the locked inode (device
// major:minor, inode number). Nothing is written on the fast path, a holder
// frozen a microsecond after flock() is named all the same, and the answer is
// about this host and this boot by construction: a holder on another machine
// sharing the home directory (NFS) is not listed, and is left to the lock
// timeout as before. A holder is stopped when every one of its threads is in
// state T or t (/proc/<pid>/task/<tid>/stat).
//
// How waiters move on. A flock cannot be taken from its holder, so a waiter
// that finds the holder stopped starts a new lock generation instead:
//  1. It takes `<state_file>.lock.break` (LOCK_NB: one breaker at a time; a
//     busy one means another waiter is already at it), checks that the lock
//     name still names the inode it judged, and that the holder is stopped;
//     it notes the holder's context-switch count.
//  2. The fence: it deletes every `<state_file>.tmp-*`, the holder's
//     unpublished write among them.
//  3. The commit: it creates and flocks a fresh lock file and renames it over
//     `<state_file>.lock`. Every later locker locks the new inode; update()
//     already re-checks the name after locking, so a waiter still polling the
//     old inode notices the change and re-opens.
//  4. It looks at the holder again. Same context-switch count and still
//     stopped: the holder has not run at any moment between 1 and 4. If it
//     ran, the breaker keeps the new lock (so nobody publishes in the new
//     generation) and waits until the holder has released the old lock, has
//     exited, or is seen stopped through a whole second fence (2 and 4
//     again).
//
// Why a late write cannot publish a stale state. A writer publishes only by
// rename(<state_file>.tmp-<pid>-<tid>, <state_file>), resolving the temporary
// name at that moment, and only after checking, with the lock held, that the
// lock name still names its lock. Take the frozen holder at any point of its
// update; by 4 it has not run since 1 (or has released the lock, or gone).
//  - Before its name check: once it resumes, the check sees the new lock
//    file and it redoes the update under the new lock.
//  - Between the check and the rename, its temporary file written: the fence
//    deleted it while the holder was frozen, so the rename fails with ENOENT
//    whenever it comes, and update() redoes the update under the new lock.
//  - After its rename: that write was published before the break, so every
//    writer of the new generation reads it.
// A rename in flight at the commit (the holder resumed in the microseconds
// between 1 and 3) is what step 4 rules out: a process seen stopped after it
// has left every system call it was in. The one case left open is a holder
// that keeps running, never releasing the lock, for the breaker's whole
// remaining wait after resuming inside that window: the breaker then gives
// up with a lock_timeout error and the new generation goes on.
//
// The doorbell (watch.h) watches the lock file's *name* in the directory, so
// it rings for the new lock file as it did for the old one. The old inode is
// unlinked by the rename; the frozen holder's late touch of it rings nothing.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string_view>

#include "common/unique_fd.h"
#include "coordinator/result.h"

namespace himalaya::coordinator {

// The pid that holds an flock on (major, minor, inode), from the text of
// /proc/locks; nullopt if none. The device must match too, unless no line
// matches it (btrfs reports another device there than stat(2) does) and one
// line matches the inode alone. Blocked waiters ("->") and POSIX locks are
// ignored; a holder in another pid namespace (pid 0) is none.
std::optional<int> parse_flock_holder(std::string_view proc_locks, unsigned major, unsigned minor,
                                      std::uint64_t inode);

// The holder of the flock on fd's inode, read from /proc/locks.
std::optional<int> flock_holder(int fd);

// One look at a process: whether every thread is stopped (T or t; exited
// threads are left out), and the sum of its threads' context switches, which
// grows whenever one of them runs.
struct ProcessRun {
  bool stopped = false;
  std::uint64_t switches = 0;
};
// nullopt if the process does not exist (or is a zombie).
std::optional<ProcessRun> observe_process(int pid);

// The state letter of one /proc/<pid>/stat line (the field after the last
// ')'), or 0 if malformed.
char parse_stat_state(std::string_view stat_line);
// voluntary_ctxt_switches + nonvoluntary_ctxt_switches of one
// /proc/<pid>/task/<tid>/status text; nullopt if either is missing.
std::optional<std::uint64_t> parse_status_switches(std::string_view status);

// What break_stopped_holder() did.
struct LockBreak {
  enum class Outcome {
    holder_running,  // nothing done: no holder found, not stopped, or another breaker busy
    name_moved,      // the lock name no longer names the waited-on inode: re-open it
    new_generation,  // `lock` is the new lock file, locked and named
  };
  Outcome outcome = Outcome::holder_running;
  common::UniqueFd lock;
};

// Called by a waiter whose flock on `waited` (open on lock_path) would block.
// state_path names the temporary files to fence (`<state_path>.tmp-*`).
// go_on says whether the caller may still wait (step 4); when it says no, the
// result is an Error of kind lock_timeout.
Result<LockBreak> break_stopped_holder(int waited, const std::filesystem::path& lock_path,
                                       const std::filesystem::path& state_path,
                                       const std::function<bool()>& go_on);

// flock(2) guards an inode, not a name: true while path still names the file
// that fd refers to.
bool still_named(int fd, const std::filesystem::path& path);

// For tests only: called by StateFile::update() with the lock held, after its
// last name check and just before the rename that publishes a write, so a
// test can freeze a real writer exactly there. Null (the default) for none.
void set_before_publish_hook(void (*hook)());
void run_before_publish_hook();

}  // namespace himalaya::coordinator
