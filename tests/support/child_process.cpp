#include "tests/support/child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <stdexcept>

extern char** environ;

namespace himalaya::testing {

ChildProcess::ChildProcess(const std::vector<std::string>& argv, bool own_process_group) {
  if (argv.empty()) {
    throw std::runtime_error("ChildProcess: empty argv");
  }
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe2 failed");
  }
  std::vector<std::string> args = argv;
  std::vector<char*> arg_pointers;
  arg_pointers.reserve(args.size() + 1);
  for (auto& a : args) {
    arg_pointers.push_back(a.data());
  }
  arg_pointers.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  if (own_process_group) {
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attr, 0);
  }
  const int rc =
      posix_spawnp(&pid_, args[0].c_str(), &actions, &attr, arg_pointers.data(), environ);
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  if (rc != 0) {
    ::close(fds[0]);
    throw std::runtime_error("posix_spawn of " + args[0] + " failed");
  }
  ::fcntl(fds[0], F_SETFL, O_NONBLOCK);
  out_ = fds[0];
}

ChildProcess::~ChildProcess() {
  if (!reaped_) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  if (out_ >= 0) {
    ::close(out_);
  }
}

std::vector<std::string> ChildProcess::read_lines() {
  char chunk[65536];
  while (!eof_) {
    const ssize_t n = ::read(out_, chunk, sizeof chunk);
    if (n > 0) {
      buffer_.append(chunk, static_cast<std::size_t>(n));
      continue;
    }
    if (n == 0) {
      eof_ = true;
    }
    break;
  }
  std::vector<std::string> lines;
  std::size_t start = 0;
  for (std::size_t nl = buffer_.find('\n'); nl != std::string::npos;
       nl = buffer_.find('\n', start)) {
    lines.push_back(buffer_.substr(start, nl - start));
    start = nl + 1;
  }
  buffer_.erase(0, start);
  return lines;
}

void ChildProcess::signal(int sig) const {
  if (!reaped_) {
    ::kill(pid_, sig);
  }
}

void ChildProcess::reap() {
  if (!reaped_) {
    ::waitpid(pid_, &status_, 0);
    reaped_ = true;
  }
}

bool ChildProcess::try_reap() {
  if (!reaped_ && ::waitpid(pid_, &status_, WNOHANG) == pid_) {
    reaped_ = true;
  }
  return reaped_;
}

std::vector<ChildProcess*> wait_for_output(const std::vector<ChildProcess*>& children,
                                           int timeout_ms) {
  std::vector<pollfd> fds;
  std::vector<ChildProcess*> who;
  for (ChildProcess* child : children) {
    if (!child->eof()) {
      fds.push_back(pollfd{child->output_fd(), POLLIN, 0});
      who.push_back(child);
    }
  }
  std::vector<ChildProcess*> ready;
  if (fds.empty() || ::poll(fds.data(), fds.size(), timeout_ms) <= 0) {
    return ready;
  }
  for (std::size_t i = 0; i < fds.size(); ++i) {
    if (fds[i].revents != 0) {
      ready.push_back(who[i]);
    }
  }
  return ready;
}

}  // namespace himalaya::testing
