// Shared helpers for the coordinator tests: a fake process table, record
// builders, and child processes that hold or stop. The temporary directory
// and the file helpers come from tests/support/files.h.
#pragma once

#include <fcntl.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <thread>

#include "coordinator/identity.h"
#include "coordinator/lock_holder.h"
#include "coordinator/state.h"
#include "tests/support/files.h"

namespace himalaya::coordinator::testing {

using himalaya::testing::slurp;
using himalaya::testing::spit;
using himalaya::testing::TempDir;

// A process table: pid -> start ticks. Absent pids are dead.
class FakeProbe final : public ProcessProbe {
 public:
  std::optional<std::uint64_t> start_ticks(int pid) const override {
    auto it = table.find(pid);
    if (it == table.end()) {
      return std::nullopt;
    }
    return it->second;
  }
  std::map<int, std::uint64_t> table;
};

inline HostFacts here() {
  return HostFacts{"box", "boot-1"};
}

inline Identity identity(const std::string& id, int pid, double started_at,
                         HostFacts host = here()) {
  Identity i;
  i.instance_id = id;
  i.nvim_pid = pid + 1000;
  i.nvim_version = "0.9.5";
  i.host_pid = pid;
  i.host_start_ticks = static_cast<std::uint64_t>(pid) * 10;
  i.host = std::move(host);
  i.started_at = started_at;
  return i;
}

// Runs `body` in a child process, which exits with what it returns.
inline pid_t fork_child(const std::function<int()>& body) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::_exit(body());
  }
  return pid;
}

inline bool wait_for(const std::function<bool()>& done, double seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

inline bool is_stopped(pid_t pid) {
  auto run = observe_process(pid);
  return run && run->stopped;
}

inline int exit_code(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Kills and reaps a child on every way out of a test.
struct Child {
  pid_t pid;
  ~Child() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  }
};

// A child that takes the flock on the lock file, says so through a pipe, and
// then stops itself (stop = true) or sleeps.
inline Child lock_holding_child(const std::filesystem::path& lock_path, bool stop) {
  int ready[2];
  if (::pipe(ready) != 0) {
    return Child{-1};
  }
  const pid_t pid = fork_child([&] {
    const int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0 || ::flock(fd, LOCK_EX) != 0 || ::write(ready[1], "x", 1) != 1) {
      return 1;
    }
    for (;;) {
      if (stop) {
        ::raise(SIGSTOP);
      } else {
        ::pause();
      }
    }
  });
  ::close(ready[1]);
  char byte = 0;
  const bool locked = ::read(ready[0], &byte, 1) == 1;
  ::close(ready[0]);
  if (!locked) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    return Child{-1};
  }
  return Child{pid};
}

}  // namespace himalaya::coordinator::testing
