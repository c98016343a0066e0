// How the runner is built, and why:
//
// - host/spawn.h forks and execs, with the child's setup (process group,
//   parent-death signal, output pipe, signal state, descriptor hygiene) done
//   before execve(), and a failed execve() reported back to start().
// - The output pipe is a pipe2(O_CLOEXEC) whose write end only the command
//   gets, so end-of-file on it means the command and everything of its group
//   that inherited its stdout are gone.
// - The exit is watched with pidfd_open(2) on the io_context, not with a
//   SIGCHLD handler: a pidfd tells us while the exited command is still a
//   zombie. Its pid, which is also the group id, cannot be reused until we
//   reap it, so we can SIGKILL whatever the command left in its group without
//   any risk of hitting an unrelated process group.
#include "host/sync_runner.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <optional>
#include <utility>

#include "common/unique_fd.h"
#include "host/output_tail.h"
#include "host/spawn.h"
#include "host/sync_errors.h"

namespace himalaya::host {
namespace {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;
using common::errno_text;
using common::open_pidfd;
using common::UniqueFd;

constexpr double min_drain_seconds = 0.1;

// Seconds as an Asio timer duration. Non-positive and NaN give zero; huge
// values are capped at a century, which is "no limit" for a sync.
Clock::duration to_duration(double seconds) {
  constexpr double century = 100.0 * 365 * 24 * 3600;
  if (!(seconds > 0)) {
    return Clock::duration::zero();
  }
  return std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(std::min(seconds, century)));
}

std::string format_seconds(double seconds) {
  std::array<char, 32> text{};
  std::snprintf(text.data(), text.size(), "%g", seconds);
  return text.data();
}

// Creates the missing directories of `dir`, each 0700 (SPEC §7: a directory
// the host creates is 0700). Existing directories are left as they are.
bool make_directories(const std::filesystem::path& dir) {
  if (dir.empty()) {
    return true;
  }
  if (::mkdir(dir.c_str(), 0700) == 0 || errno == EEXIST) {
    return true;
  }
  if (errno != ENOENT || dir.parent_path() == dir || !make_directories(dir.parent_path())) {
    return false;
  }
  return ::mkdir(dir.c_str(), 0700) == 0 || errno == EEXIST;
}

// Opens (creating it 0600 if needed) and flocks `path`. The descriptor is
// O_CLOEXEC so that no child inherits the lock by accident (only the sync
// command gets it, on purpose: host/spawn.h), and O_NOFOLLOW so that a symlink
// planted at the lock's path is refused rather than followed.
bool lock_exclusive(const std::filesystem::path& path, UniqueFd& out, std::string& error) {
  if (!make_directories(path.parent_path())) {
    error = "cannot lock " + path.string() + ": cannot create " + path.parent_path().string() +
            ": " + errno_text(errno);
    return false;
  }
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (fd.get() < 0) {
    error = "cannot lock " + path.string() + ": " +
            (errno == ELOOP ? std::string("it is a symbolic link") : errno_text(errno));
    return false;
  }
  int result = 0;
  do {
    result = ::flock(fd.get(), LOCK_EX | LOCK_NB);
  } while (result != 0 && errno == EINTR);
  if (result != 0) {
    error = errno == EWOULDBLOCK ? "another sync holds the lock " + path.string()
                                 : "cannot lock " + path.string() + ": " + errno_text(errno);
    return false;
  }
  out = std::move(fd);
  return true;
}

void reap(pid_t pid, int* status) {
  while (::waitpid(pid, status, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace

// One run, from start() until its callback. Only SyncRunner::run_ owns it;
// asynchronous handlers hold a weak_ptr, so a handler that runs after the run
// ended (or the runner was destroyed) finds nothing and returns. A handler
// that does find its run may use the runner too: the runner outlives run_.
struct SyncRunner::Run : std::enable_shared_from_this<SyncRunner::Run> {
  Run(SyncRunner& runner, Callback callback)
      : owner(runner),
        done(std::move(callback)),
        started(Clock::now()),
        exit_watch(runner.io_),
        output(runner.io_),
        deadline(runner.io_),
        kill_timer(runner.io_),
        drain_timer(runner.io_) {}

  void launch();
  void fail_to_start(const std::string& message);
  void read_output();
  void watch_exit();
  void on_exit();
  void terminate(SyncOutcome why);
  void maybe_finish();
  void finish();
  void abandon();

  SyncRunner& owner;
  Callback done;
  Clock::time_point started;
  UniqueFd lock;

  pid_t pid = -1;                     // the command, which leads its group; -1 until spawned
  bool launched = false;              // spawned and watched: how it ends decides the outcome
  bool exited = false;                // reaped: from then on its group is never signalled
  std::optional<int> wait_status;     // empty if it never ran, or was reaped elsewhere
  std::optional<SyncOutcome> ending;  // timed_out or cancelled, once decided
  bool output_closed = false;
  bool finished = false;  // the result is final and the callback posted

  asio::posix::stream_descriptor exit_watch;  // the pidfd: readable once it exited
  asio::posix::stream_descriptor output;      // read end of the stdout/stderr pipe
  asio::steady_timer deadline;                // sync.timeout
  asio::steady_timer kill_timer;              // SIGTERM -> SIGKILL
  asio::steady_timer drain_timer;             // bounds reading after the exit
  std::array<char, 4096> buffer{};
  OutputTail tail;
  SyncRun result;
};

void SyncRunner::Run::launch() {
  const std::vector<std::string>& command = owner.options_.command;
  std::string program = resolve_program(command.front());
  if (program.empty()) {
    fail_to_start(describe_spawn_failure(command.front(), ENOENT));
    return;
  }
  std::array<int, 2> fds{};
  if (::pipe2(fds.data(), O_CLOEXEC) != 0) {
    fail_to_start(describe_spawn_failure(command.front(), errno));
    return;
  }
  UniqueFd read_end(fds[0]);
  UniqueFd write_end(fds[1]);
  int spawn_error = 0;
  pid_t child = spawn(SpawnRequest{program, command, write_end.get(), lock.get()}, spawn_error);
  // Close the host's copy of the write end: the pipe reaches EOF once the
  // command and everything that inherited its stdout/stderr are gone.
  write_end.reset();
  // And the host's copy of the lock: from here on the command holds it, so
  // it is released exactly when the sync process (and whatever of its group
  // inherited it) is gone, even if this host is stopped and cannot reap it.
  lock.reset();
  if (child < 0) {
    fail_to_start(describe_spawn_failure(command.front(), spawn_error));
    return;
  }
  pid = child;

  int pidfd = open_pidfd(pid);
  if (pidfd < 0) {
    int pidfd_error = errno;
    if (pidfd_error != ESRCH) {  // ESRCH: reaped behind our back; nothing to signal
      ::kill(-pid, SIGKILL);
      reap(pid, nullptr);
    }
    exited = true;
    fail_to_start("cannot watch the sync command: pidfd_open: " + errno_text(pidfd_error));
    return;
  }
  boost::system::error_code assign_error;
  exit_watch.assign(pidfd, assign_error);
  if (!assign_error) {
    output.assign(read_end.get(), assign_error);
  }
  if (assign_error) {
    if (!exit_watch.is_open()) {
      ::close(pidfd);
    }
    ::kill(-pid, SIGKILL);
    reap(pid, nullptr);
    exited = true;
    fail_to_start("cannot watch the sync command: " + assign_error.message());
    return;
  }
  read_end.release();  // output owns it now
  launched = true;
  read_output();
  watch_exit();

  Clock::duration limit = to_duration(owner.options_.timeout);
  if (limit > Clock::duration::zero()) {
    deadline.expires_after(limit);
    deadline.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
      auto run = weak.lock();
      if (run && !ec) {
        run->terminate(SyncOutcome::timed_out);
      }
    });
  }
}

void SyncRunner::Run::fail_to_start(const std::string& message) {
  result.outcome = SyncOutcome::failed;
  result.message = message;
  output_closed = true;
  exited = true;
  finish();
}

void SyncRunner::Run::read_output() {
  output.async_read_some(
      asio::buffer(buffer),
      [weak = weak_from_this()](const boost::system::error_code& ec, std::size_t size) {
        auto run = weak.lock();
        if (!run || run->finished) {
          return;
        }
        run->tail.append(run->buffer.data(), size);
        if (!ec) {
          run->read_output();
          return;
        }
        // EOF: every copy of the write end is closed. Any other error ends
        // the capture too; the exit status still decides the outcome.
        run->output_closed = true;
        boost::system::error_code ignored;
        run->output.close(ignored);
        run->drain_timer.cancel();
        run->maybe_finish();
      });
}

void SyncRunner::Run::watch_exit() {
  exit_watch.async_wait(asio::posix::stream_descriptor::wait_read,
                        [weak = weak_from_this()](const boost::system::error_code& ec) {
                          auto run = weak.lock();
                          if (run && !ec && !run->exited) {
                            run->on_exit();
                          }
                        });
}

void SyncRunner::Run::on_exit() {
  // Look without reaping first: while the command is an unreaped zombie, its
  // group id cannot be reused, so killing the group hits only what the
  // command left behind.
  siginfo_t info{};
  int looked = 0;
  do {
    looked = ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT);
  } while (looked != 0 && errno == EINTR);
  if (looked == 0 && info.si_pid == 0) {
    watch_exit();  // not exited after all
    return;
  }
  exited = true;
  if (looked == 0) {
    ::kill(-pid, SIGKILL);
    int status = 0;
    pid_t reaped = 0;
    do {
      reaped = ::waitpid(pid, &status, WNOHANG);
    } while (reaped < 0 && errno == EINTR);
    if (reaped == pid) {
      wait_status = status;
    }
  }
  // Else (ECHILD) something else in the host reaped it, against the contract;
  // its pid may already be reused, so signal nothing.
  deadline.cancel();
  kill_timer.cancel();
  boost::system::error_code ignored;
  exit_watch.close(ignored);
  if (output_closed) {
    maybe_finish();
    return;
  }
  // Normally EOF follows at once: the group is dead. Only a process that left
  // the group (setsid) can still hold the pipe; don't wait for it forever,
  // but long enough not to lose output that is already on its way.
  drain_timer.expires_after(to_duration(std::max(owner.options_.kill_grace, min_drain_seconds)));
  drain_timer.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
    auto run = weak.lock();
    if (!run || ec || run->output_closed) {
      return;
    }
    run->output_closed = true;
    boost::system::error_code ignore;
    run->output.close(ignore);
    run->maybe_finish();
  });
}

void SyncRunner::Run::terminate(SyncOutcome why) {
  if (exited || finished || ending) {
    return;
  }
  ending = why;
  // SIGCONT lets a stopped member act on the SIGTERM instead of holding it.
  ::kill(-pid, SIGTERM);
  ::kill(-pid, SIGCONT);
  kill_timer.expires_after(to_duration(owner.options_.kill_grace));
  kill_timer.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
    auto run = weak.lock();
    if (run && !ec && !run->exited) {
      ::kill(-run->pid, SIGKILL);
    }
  });
}

void SyncRunner::Run::maybe_finish() {
  if (exited && output_closed && !finished) {
    finish();
  }
}

void SyncRunner::Run::finish() {
  finished = true;
  result.seconds = std::chrono::duration<double>(Clock::now() - started).count();
  result.output_tail = tail.text();
  if (launched) {  // otherwise fail_to_start() set outcome and message
    if (wait_status && WIFEXITED(*wait_status)) {
      result.exit_status = WEXITSTATUS(*wait_status);
    } else if (wait_status && WIFSIGNALED(*wait_status)) {
      result.signal = WTERMSIG(*wait_status);
    }
    if (ending == SyncOutcome::timed_out) {
      result.outcome = SyncOutcome::timed_out;
      result.message =
          "sync timed out after " + format_seconds(owner.options_.timeout) + " s and was stopped";
    } else if (ending == SyncOutcome::cancelled) {
      result.outcome = SyncOutcome::cancelled;
      result.message = "sync cancelled";
    } else if (!wait_status) {
      result.outcome = SyncOutcome::failed;
      result.message = "the sync command's exit status was lost (reaped by someone else)";
    } else if (result.exit_status == 0) {
      result.outcome = SyncOutcome::ok;
    } else {
      result.outcome = SyncOutcome::failed;
      result.message = describe_failure(result.exit_status, result.signal, result.output_tail);
    }
  }
  // Let go of everything now: the lock is free before the callback runs, so
  // the callback may start the next sync.
  lock.reset();
  deadline.cancel();
  kill_timer.cancel();
  drain_timer.cancel();
  boost::system::error_code ignored;
  exit_watch.close(ignored);
  output.close(ignored);
  owner.finish(shared_from_this());
}

void SyncRunner::Run::abandon() {
  if (pid > 0 && !exited) {
    ::kill(-pid, SIGKILL);
    reap(pid, nullptr);
    exited = true;
  }
  finished = true;
  lock.reset();
}

SyncRunner::SyncRunner(boost::asio::io_context& io, Options options)
    : io_(io), options_(std::move(options)) {}

SyncRunner::~SyncRunner() {
  if (run_) {
    run_->abandon();
  }
}

bool SyncRunner::start(Callback done, std::string& error) {
  if (run_) {
    error = "a sync is already running";
    return false;
  }
  if (options_.command.empty()) {
    error = "the sync command is empty";
    return false;
  }
  if (options_.lock_file.empty()) {
    error = "no sync lock file is configured";
    return false;
  }
  UniqueFd lock;
  if (!lock_exclusive(options_.lock_file, lock, error)) {
    return false;
  }
  run_ = std::make_shared<Run>(*this, std::move(done));
  run_->lock = std::move(lock);
  run_->launch();
  return true;
}

void SyncRunner::finish(const std::shared_ptr<Run>& run) {
  // Posted, so that `done` never runs inside start() or cancel().
  asio::post(io_, [this, weak = std::weak_ptr<Run>(run)] {
    auto finished_run = weak.lock();
    if (!finished_run) {
      return;  // the runner was destroyed meanwhile
    }
    Callback done = std::move(finished_run->done);
    SyncRun result = std::move(finished_run->result);
    run_.reset();
    if (done) {
      done(result);  // may start the next run or destroy *this: touch nothing after
    }
  });
}

void SyncRunner::cancel() {
  if (run_) {
    run_->terminate(SyncOutcome::cancelled);
  }
}

bool SyncRunner::running() const {
  return run_ != nullptr;
}

int SyncRunner::pid() const {
  return run_ && !run_->exited ? run_->pid : -1;
}

}  // namespace himalaya::host
