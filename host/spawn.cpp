#include "host/spawn.h"

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <string_view>

#include "common/unique_fd.h"

extern char** environ;  // NOLINT: the process environment, declared by POSIX

namespace himalaya::host {
namespace {

using common::UniqueFd;

// What the child writes to the error pipe before it exits: the errno of the
// step that failed. Nothing is written when execve() succeeds; the pipe is
// then closed by it (O_CLOEXEC) and the parent reads end-of-file.
struct ChildError {
  int error_number;
};

[[noreturn]] void child_fail(int report_fd) {
  ChildError report{errno};
  // One small write to a pipe is atomic; if even this fails, the parent sees
  // end-of-file and the exit status 127 tells it the child did not run.
  [[maybe_unused]] ssize_t written = ::write(report_fd, &report, sizeof report);
  ::_exit(127);
}

// Between fork() and execve(): only async-signal-safe calls, no allocation.
[[noreturn]] void run_child(const SpawnRequest& request, pid_t parent, int null_fd, int report_fd,
                            char* const* argv) {
  // A clean signal state: ignored signals and the mask survive execve(), and
  // the command must be able to die of SIGTERM and SIGPIPE.
  sigset_t none;
  ::sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  struct sigaction default_action {};
  default_action.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) {
    ::sigaction(sig, &default_action, nullptr);  // fails harmlessly for KILL and STOP
  }
  if (::setpgid(0, 0) != 0 || ::prctl(PR_SET_PDEATHSIG, SIGTERM) != 0) {
    child_fail(report_fd);
  }
  if (::getppid() != parent) {
    ::_exit(127);  // the host died before the death signal was armed
  }
  if (::dup2(null_fd, STDIN_FILENO) < 0 || ::dup2(request.output_fd, STDOUT_FILENO) < 0 ||
      ::dup2(request.error_fd >= 0 ? request.error_fd : request.output_fd, STDERR_FILENO) < 0) {
    child_fail(report_fd);
  }
  // Whatever descriptor the rest of the host opened without O_CLOEXEC must
  // not reach the command. Fails only before Linux 5.11, where the host's
  // own descriptors are all O_CLOEXEC anyway.
  ::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
  if (request.inherit_fd >= 0 && ::fcntl(request.inherit_fd, F_SETFD, 0) != 0) {
    child_fail(report_fd);
  }
  ::execve(request.program.c_str(), argv, environ);
  child_fail(report_fd);
}

void reap(pid_t pid) {
  while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace

pid_t spawn(const SpawnRequest& request, int& error_number) {
  error_number = 0;
  if (request.program.empty() || request.argv.empty()) {
    error_number = ENOENT;
    return -1;
  }
  std::vector<char*> argv;
  argv.reserve(request.argv.size() + 1);
  for (const std::string& arg : request.argv) {
    argv.push_back(const_cast<char*>(arg.c_str()));  // NOLINT: execve() takes char* const*
  }
  argv.push_back(nullptr);

  UniqueFd null_fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!null_fd.valid()) {
    error_number = errno;
    return -1;
  }
  int report_fds[2];
  if (::pipe2(report_fds, O_CLOEXEC) != 0) {
    error_number = errno;
    return -1;
  }
  UniqueFd report_read(report_fds[0]);
  UniqueFd report_write(report_fds[1]);

  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    error_number = errno;
    return -1;
  }
  if (pid == 0) {
    run_child(request, parent, null_fd.get(), report_write.get(), argv.data());
  }
  // The parent sets the group too, so that it exists however the two race;
  // once the child has execve()d this fails (EACCES), which is fine.
  ::setpgid(pid, pid);
  report_write.reset();

  ChildError report{};
  ssize_t got = 0;
  do {
    got = ::read(report_read.get(), &report, sizeof report);
  } while (got < 0 && errno == EINTR);
  if (got == 0) {
    return pid;  // end-of-file: execve() succeeded and closed the pipe
  }
  // The setup or execve() failed and the child is exiting; or the read itself
  // failed, and the child's state is unknown: never leave it running.
  error_number = got == static_cast<ssize_t>(sizeof report) ? report.error_number : EIO;
  ::kill(pid, SIGKILL);
  reap(pid);
  return -1;
}

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

}  // namespace himalaya::host
