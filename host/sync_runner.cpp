// How the runner is built, and why:
//
// - Boost.Process (v1) forks and execs: its error pipe reports an execve()
//   failure in the child back to start(), and its on_exec_setup hook runs our
//   child-side setup (process group, parent-death signal, output pipe, signal
//   state, descriptor hygiene).
// - The output pipe is our own pipe2(O_CLOEXEC), not a Boost async_pipe: in
//   1.74 async_pipe is a plain pipe(), and `(std_out & std_err) > pipe` leaves
//   its read end open in the child, where mbsync would hold it without ever
//   reading it.
// - The exit is watched with pidfd_open(2) on the io_context, not with
//   bp::on_exit. on_exit reaps the child inside Boost's SIGCHLD handler before
//   telling us; a pidfd tells us while the exited command is still a zombie.
//   Its pid, which is also the group id, cannot be reused until we reap it,
//   so we can SIGKILL whatever the command left in its group without any risk
//   of hitting an unrelated process group. It also avoids a process-wide
//   SIGCHLD handler. The bp::child is detached so that it never waits on or
//   kills the pid itself.
// - In 1.74, a failed execve() leaves the child unreaped (Boost returns an
//   empty child and forgets the pid), so an on_error hook reaps it.
#include "host/sync_runner.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/process/args.hpp>
#include <boost/process/child.hpp>
#include <boost/process/exe.hpp>
#include <boost/process/extend.hpp>
#include <boost/process/io.hpp>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string_view>
#include <system_error>
#include <utility>

#include "host/sync_errors.h"

namespace himalaya::host {
namespace {

namespace asio = boost::asio;
namespace bp = boost::process;
using Clock = std::chrono::steady_clock;

constexpr std::size_t tail_max_bytes = 4096;
constexpr int tail_max_lines = 20;
constexpr double min_drain_seconds = 0.1;

// Owns one file descriptor.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) {
      reset(std::exchange(other.fd_, -1));
    }
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }
  void reset(int fd = -1) {
    if (fd_ >= 0) {
      ::close(fd_);
    }
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

std::string errno_text(int error_number) {
  return std::strerror(error_number);
}

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

// Replaces every byte that is not part of a well-formed UTF-8 sequence with
// U+FFFD, so that the tail can go into JSON and msgpack strings as is.
std::string valid_utf8(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  std::size_t i = 0;
  while (i < in.size()) {
    auto byte = [&](std::size_t k) { return static_cast<unsigned char>(in[k]); };
    unsigned char b = byte(i);
    std::size_t length = 0;
    unsigned char low = 0x80;  // bounds of the second byte, for overlongs and surrogates
    unsigned char high = 0xBF;
    if (b < 0x80) {
      length = 1;
    } else if (b >= 0xC2 && b <= 0xDF) {
      length = 2;
    } else if (b >= 0xE0 && b <= 0xEF) {
      length = 3;
      low = b == 0xE0 ? 0xA0 : 0x80;
      high = b == 0xED ? 0x9F : 0xBF;
    } else if (b >= 0xF0 && b <= 0xF4) {
      length = 4;
      low = b == 0xF0 ? 0x90 : 0x80;
      high = b == 0xF4 ? 0x8F : 0xBF;
    }
    bool ok = length > 0 && i + length <= in.size();
    for (std::size_t k = 1; ok && k < length; ++k) {
      unsigned char c = byte(i + k);
      ok = k == 1 ? (c >= low && c <= high) : (c >= 0x80 && c <= 0xBF);
    }
    if (ok) {
      out.append(in.substr(i, length));
      i += length;
    } else {
      out.append("\xEF\xBF\xBD");
      ++i;
    }
  }
  return out;
}

// The end of the command's output. Appending is amortised O(1): the buffer is
// trimmed back to the last tail_max_bytes whenever it grows to twice that.
class OutputTail {
 public:
  void append(const char* data, std::size_t size) {
    text_.append(data, size);
    if (text_.size() > 2 * tail_max_bytes) {
      text_.erase(0, text_.size() - tail_max_bytes);
      cut_ = true;
    }
  }

  // The last tail_max_lines lines within tail_max_bytes, starting at a line
  // boundary when anything was cut, as valid UTF-8.
  std::string text() const {
    std::string_view s = text_;
    bool cut = cut_;
    if (s.size() > tail_max_bytes) {
      s.remove_prefix(s.size() - tail_max_bytes);
      cut = true;
    }
    if (cut) {
      std::size_t newline = s.find('\n');
      if (newline != std::string_view::npos && newline + 1 < s.size()) {
        s.remove_prefix(newline + 1);  // drop the partial first line
      }
    }
    std::size_t end = s.size();
    if (end > 0 && s[end - 1] == '\n') {
      --end;  // the final newline ends the last line; it does not start one
    }
    int newlines = 0;
    for (std::size_t i = end; i > 0; --i) {
      if (s[i - 1] == '\n' && ++newlines == tail_max_lines) {
        s.remove_prefix(i);
        break;
      }
    }
    return valid_utf8(s);
  }

 private:
  std::string text_;
  bool cut_ = false;
};

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
// command gets it, on purpose: ChildSetup), and O_NOFOLLOW so that a symlink
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

// Like execvp(3): a name with a '/' is used as it is; a bare name is looked up
// in PATH (an empty entry meaning the current directory). "" if not found.
std::string resolve_program(const std::string& name) {
  if (name.empty() || name.find('/') != std::string::npos) {
    return name;
  }
  const char* path = std::getenv("PATH");
  std::string_view dirs = path != nullptr ? path : "/bin:/usr/bin";
  while (true) {
    std::size_t colon = dirs.find(':');
    std::string_view dir = dirs.substr(0, colon);
    std::string candidate = (dir.empty() ? std::string(".") : std::string(dir)) + "/" + name;
    struct stat st {};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        ::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
    if (colon == std::string_view::npos) {
      return {};
    }
    dirs.remove_prefix(colon + 1);
  }
}

// glibc 2.36's <sys/pidfd.h> declares pidfd_open() without extern "C" (fixed in
// 2.37), so C++ cannot link against it: call the system call directly.
int open_pidfd(pid_t pid) {
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0U));
}

void reap(pid_t pid, int* status) {
  while (::waitpid(pid, status, 0) < 0 && errno == EINTR) {
  }
}

// Runs in the child between fork() and execve(), so it makes only
// async-signal-safe calls and never allocates. On a failure it reports the
// error through Boost's error pipe and exits: execve() must not run in a
// child that is not in its own group or whose output would reach the host's
// stdout.
struct ChildSetup {
  pid_t parent;
  int output_fd;
  int lock_fd;  // the sync lock, handed to the command (see SyncRunner::Run::launch)

  template <typename Executor>
  void operator()(Executor& exec) const {
    // A clean signal state: an ignored signal and the signal mask survive
    // execve(), and mbsync must be able to die of SIGTERM and SIGPIPE.
    sigset_t none;
    ::sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    struct sigaction default_action {};
    default_action.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; ++sig) {
      ::sigaction(sig, &default_action, nullptr);  // fails harmlessly for KILL and STOP
    }
    if (::setpgid(0, 0) != 0) {
      fail(exec, "setpgid(2) failed");
    }
    if (::prctl(PR_SET_PDEATHSIG, SIGTERM) != 0) {
      fail(exec, "prctl(PR_SET_PDEATHSIG) failed");
    }
    if (::getppid() != parent) {
      ::_exit(127);  // the host died before the death signal was armed
    }
    if (::dup2(output_fd, STDOUT_FILENO) < 0 || ::dup2(output_fd, STDERR_FILENO) < 0) {
      fail(exec, "dup2(2) failed");
    }
    // Whatever descriptor the rest of the host opened without O_CLOEXEC (a
    // state-file lock, a socket) must not reach mbsync either. Fails only
    // before Linux 5.11, where the runner's own descriptors are still safe.
    ::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
    // The one exception: the command holds the sync lock for as long as it
    // lives, so the lock ends with the sync even when the host is frozen.
    if (::fcntl(lock_fd, F_SETFD, 0) != 0) {
      fail(exec, "fcntl(2) on the sync lock failed");
    }
  }

  template <typename Executor>
  static void fail(Executor& exec, const char* what) {
    exec.set_error(bp::extend::get_last_error(), what);
    ::_exit(127);
  }
};

// Runs in the host when the launch failed after fork(): Boost 1.74 returns an
// empty child without waiting for the one that could not exec.
struct ReapFailedChild {
  template <typename Executor>
  void operator()(Executor& exec, const std::error_code& /*error*/) const {
    if (exec.pid > 0) {
      ::kill(exec.pid, SIGKILL);  // it is exiting anyway; never leave it running
      reap(exec.pid, nullptr);
    }
  }
};

// Forks and execs `program` with `args`, stdin on /dev/null and stdout and
// stderr on `output_fd`. Returns the pid, or -1 with `error` set. When it
// returns a pid, the child has already called setpgid() and execve(): Boost's
// error pipe makes the launch wait for execve(), so signalling the group right
// away is safe.
pid_t spawn(const std::string& program, const std::vector<std::string>& args, int output_fd,
            int lock_fd, std::error_code& error) {
  try {
    bp::child child(bp::exe = program, bp::args = args, bp::std_in < bp::null,
                    bp::extend::on_exec_setup(ChildSetup{::getpid(), output_fd, lock_fd}),
                    bp::extend::on_error(ReapFailedChild{}), error);
    if (error) {
      return -1;
    }
    pid_t pid = child.id();
    child.detach();  // we wait for it, through its pidfd
    return pid;
  } catch (const std::system_error& e) {
    error = e.code();
  } catch (const std::exception&) {
    error = std::make_error_code(std::errc::not_enough_memory);
  }
  return -1;
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
  std::error_code error;
  std::vector<std::string> args(command.begin() + 1, command.end());
  pid_t child = spawn(program, args, write_end.get(), lock.get(), error);
  // Close the host's copy of the write end: the pipe reaches EOF once the
  // command and everything that inherited its stdout/stderr are gone.
  write_end.reset();
  // And the host's copy of the lock: from here on the command holds it, so
  // it is released exactly when the sync process (and whatever of its group
  // inherited it) is gone, even if this host is stopped and cannot reap it.
  lock.reset();
  if (child < 0) {
    fail_to_start(describe_spawn_failure(command.front(), error.value()));
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
