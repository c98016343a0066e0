// Runs the sync command (`sync.command`, SPEC §3) once per start(), under the
// mbsync lock, with a time limit, and reports how it ended (SPEC §5 Records,
// §6 Notifications, §8 no orphans).
//
// What a run promises:
// - The command is executed as an argv, never through a shell. A bare name is
//   looked up on PATH like execvp(3) does.
// - It runs in a process group of its own, with stdin on /dev/null and stdout
//   plus stderr captured through a pipe (the host's stdout carries
//   msgpack-RPC: one stray byte from mbsync would kill the channel). Only the
//   tail of the output is kept. It inherits no descriptor of the host besides
//   those three and the sync lock, and it gets SIGTERM if the host dies
//   (PR_SET_PDEATHSIG, host/spawn.h), so a SIGKILLed host does not leave it
//   running.
// - start() takes an exclusive flock(2) on `lock_file` (refusing to start if
//   it is held), so that two syncs (two hosts, or a cron mbsync wrapper using
//   the same lock) never overlap. The lock is handed to the command, like
//   flock(1) does, and the host lets go of its own descriptor once the
//   command is spawned: the lock is held exactly as long as the sync process
//   lives (and whatever of its group inherited it), even when the host itself
//   is stopped (SIGSTOP) and cannot reap it, so another host may sync as soon
//   as that process is gone (coordinator/schedule.h, running_sync_active()).
// - Nothing of the group survives the run: on the timeout or cancel() the
//   group gets SIGTERM (and SIGCONT, so that a stopped member sees it), then
//   SIGKILL after `kill_grace`; when the command exits by itself, whatever it
//   left running in its group is SIGKILLed. The group is only ever signalled
//   while its leader is still unreaped, so the group id cannot have been
//   recycled by an unrelated process.
//
// Threading: everything happens on the io_context's thread; the runner is not
// thread-safe. It never blocks that thread, except in the destructor (see
// there) and for the fork()+execve() of the launch itself.
//
// What it expects of the rest of the host: nothing else reaps a child it did
// not start (no waitpid(-1), no SIGCHLD set to SIG_IGN). The runner reaps the
// command itself, and only after it has cleaned up the command's group.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "coordinator/state.h"

namespace boost::asio {
class io_context;
}

namespace himalaya::host {

// The outcome recorded in the state file (coordinator/state.h):
//   ok         exited with status 0
//   failed     non-zero exit, killed by a signal, or could not be started
//   timed_out  ran past `timeout` and was killed
//   cancelled  cancel() was called while it ran (the host shutting down, say)
// to_string() gives "ok", "failed", "timed_out", "cancelled".
using coordinator::SyncOutcome;

// How one run ended.
struct SyncRun {
  SyncOutcome outcome = SyncOutcome::failed;
  // One readable line for the user; empty when outcome is ok. See
  // host/sync_errors.h for the wording of failures.
  std::string message;
  // The exit status; -1 if the command was ended by a signal or never ran.
  int exit_status = -1;
  // The signal that ended the command; 0 if it exited or never ran.
  int signal = 0;
  // The end of the command's combined stdout and stderr: at most the last 20
  // lines and 4 KiB, cut at a line boundary when cut at all.
  std::string output_tail;
  // From start() until the process had exited and the runner let go of it.
  double seconds = 0;
};

class SyncRunner {
 public:
  struct Options {
    std::vector<std::string> command;  // argv; must not be empty
    double timeout = 600;              // seconds, fractional; <= 0: no limit
    std::filesystem::path lock_file;   // must not be empty
    // Seconds between SIGTERM and SIGKILL on timeout or cancel(). It also
    // bounds how long output is still read after the command exited (at
    // least 0.1 s), when something outside its group holds the pipe open.
    double kill_grace = 2.0;
  };
  using Callback = std::function<void(const SyncRun&)>;

  SyncRunner(boost::asio::io_context& io, Options options);
  // If a run is in progress, SIGKILLs its group and reaps the command, which
  // blocks for the few milliseconds the kernel takes to end it. The run's
  // callback is then never called: the owner is going away. An owner that
  // needs the outcome recorded calls cancel() first and waits for the
  // callback.
  ~SyncRunner();
  SyncRunner(const SyncRunner&) = delete;
  SyncRunner& operator=(const SyncRunner&) = delete;

  // Starts a run. Returns false, sets `error` and never calls `done` when no
  // run could begin:
  //   "a sync is already running",
  //   "another sync holds the lock <path>",
  //   "cannot lock <path>: <reason>", or an empty command or lock_file.
  // Otherwise returns true and calls `done` exactly once, always later from
  // the io_context (never from inside start()). A command that cannot be
  // started (not found, not executable) is such a run: it returns true and
  // `done` reports failed with "sync command not found: mbsync" and the like,
  // because for the user and the records it is a sync that failed.
  //
  // A run is in progress (running() is true, start() refuses) from a
  // successful start() until just before `done` is called; `done` may start
  // the next run, or destroy the runner.
  bool start(Callback done, std::string& error);

  // Ends the run in progress: SIGTERM to its group, SIGKILL after
  // `kill_grace`. `done` follows, with outcome cancelled, once the command has
  // really exited. A no-op when nothing runs or the command already exited
  // (then the run reports how the command ended), and when called again.
  void cancel();

  bool running() const;

  // The command's pid, which is also its process group id, while it runs;
  // -1 otherwise. For tests and logs.
  int pid() const;

 private:
  struct Run;  // one run's processes, descriptors and timers (sync_runner.cpp)

  // Posts `run`'s callback; run_ stays set until it is called.
  void finish(const std::shared_ptr<Run>& run);

  boost::asio::io_context& io_;
  Options options_;
  std::shared_ptr<Run> run_;  // the run in progress, if any
};

}  // namespace himalaya::host
