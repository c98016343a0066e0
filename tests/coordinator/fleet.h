// A fleet of coord-driver processes for the multi-process tests and the
// benchmark: spawns them with posix_spawn, reads their event lines through
// pipes, and waits for conditions with deadlines.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "coordinator/state_file.h"
#include "tests/support/clock.h"
#include "tests/support/wait.h"

extern char** environ;

namespace himalaya::coordinator::testing {

using himalaya::testing::mono_now;
using himalaya::testing::process_state;

struct Driver {
  pid_t pid = -1;
  int out = -1;
  std::string buffer;
  std::string id;
  std::string role;      // last role reported
  double role_mono = 0;  // when it was reported (the driver's CLOCK_MONOTONIC)
  bool ready = false;
  bool eof = false;
  bool reaped = false;
  int status = 0;
  std::vector<std::string> lines;
  int times_primary = 0;
};

class Fleet {
 public:
  Fleet(std::string driver_path, std::filesystem::path state_file)
      : driver_(std::move(driver_path)), state_file_(std::move(state_file)) {}
  ~Fleet() {
    for (auto& d : drivers_) {
      if (!d->reaped) {
        ::kill(d->pid, SIGKILL);
        ::waitpid(d->pid, nullptr, 0);
      }
      if (d->out >= 0) {
        ::close(d->out);
      }
    }
  }
  Fleet(const Fleet&) = delete;
  Fleet& operator=(const Fleet&) = delete;

  // wrapper, if given, is a command line the driver is run under (e.g.
  // {"unshare", "-u", ...}); it must exec the driver, whose argv it is
  // prepended to. A wrapped driver leads its own process group, so a test can
  // signal the wrapper and the driver together with kill(-pid, ...).
  Driver& spawn(const std::vector<std::string>& extra,
                const std::vector<std::string>& wrapper = {}) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
      throw std::runtime_error("pipe2 failed");
    }
    std::vector<std::string> args = wrapper;
    args.insert(args.end(), {driver_, "--state", state_file_.string()});
    args.insert(args.end(), extra.begin(), extra.end());
    std::vector<char*> argv;
    argv.reserve(args.size() + 1);
    for (auto& a : args) {
      argv.push_back(a.data());
    }
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    if (!wrapper.empty()) {
      posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
      posix_spawnattr_setpgroup(&attr, 0);
    }
    pid_t pid = -1;
    int rc = posix_spawnp(&pid, args[0].c_str(), &actions, &attr, argv.data(), environ);
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&actions);
    ::close(fds[1]);
    if (rc != 0) {
      ::close(fds[0]);
      throw std::runtime_error("posix_spawn failed");
    }
    ::fcntl(fds[0], F_SETFL, O_NONBLOCK);
    auto d = std::make_unique<Driver>();
    d->pid = pid;
    d->out = fds[0];
    drivers_.push_back(std::move(d));
    return *drivers_.back();
  }

  // Reads whatever the drivers printed, waiting up to timeout_ms for output.
  void pump(int timeout_ms) {
    std::vector<pollfd> pfds;
    std::vector<Driver*> who;
    for (auto& d : drivers_) {
      if (!d->eof) {
        pfds.push_back(pollfd{d->out, POLLIN, 0});
        who.push_back(d.get());
      }
    }
    if (pfds.empty()) {
      return;
    }
    if (::poll(pfds.data(), pfds.size(), timeout_ms) <= 0) {
      return;
    }
    for (std::size_t i = 0; i < pfds.size(); ++i) {
      if (pfds[i].revents == 0) {
        continue;
      }
      Driver& d = *who[i];
      char buf[65536];
      for (;;) {
        ssize_t n = ::read(d.out, buf, sizeof buf);
        if (n > 0) {
          d.buffer.append(buf, static_cast<std::size_t>(n));
          continue;
        }
        if (n == 0) {
          d.eof = true;
        }
        break;
      }
      std::size_t nl;
      while ((nl = d.buffer.find('\n')) != std::string::npos) {
        handle(d, d.buffer.substr(0, nl));
        d.buffer.erase(0, nl + 1);
      }
    }
  }

  bool wait_until(const std::function<bool()>& done, double seconds) {
    const double deadline = mono_now() + seconds;
    while (!done()) {
      if (mono_now() > deadline) {
        return false;
      }
      pump(5);
    }
    return true;
  }

  void reap(Driver& d) {
    if (!d.reaped) {
      ::waitpid(d.pid, &d.status, 0);
      d.reaped = true;
    }
  }
  bool try_reap(Driver& d) {
    if (!d.reaped && ::waitpid(d.pid, &d.status, WNOHANG) == d.pid) {
      d.reaped = true;
    }
    return d.reaped;
  }

  // Drivers that are still running (not killed or exited).
  std::vector<Driver*> alive() {
    std::vector<Driver*> out;
    for (auto& d : drivers_) {
      if (!d->eof && !d->reaped) {
        out.push_back(d.get());
      }
    }
    return out;
  }

  std::vector<Driver*> primaries() {
    std::vector<Driver*> out;
    for (Driver* d : alive()) {
      if (d->role == "primary") {
        out.push_back(d);
      }
    }
    return out;
  }

  std::string file_primary() const {
    auto r = StateFile(state_file_).read();
    if (!r || !r.value().primary) {
      return "";
    }
    return r.value().primary->instance_id;
  }

  // Exactly one live driver says primary, all others say secondary, and the
  // file names the same one.
  bool agreed() {
    auto live = alive();
    auto p = primaries();
    if (p.size() != 1) {
      return false;
    }
    for (Driver* d : live) {
      if (!d->ready || (d != p[0] && d->role != "secondary")) {
        return false;
      }
    }
    return file_primary() == p[0]->id;
  }

  std::vector<std::unique_ptr<Driver>>& drivers() { return drivers_; }
  const std::filesystem::path& state_file() const { return state_file_; }

 private:
  void handle(Driver& d, const std::string& line) {
    d.lines.push_back(line);
    std::istringstream in(line);
    std::string kind;
    in >> kind;
    if (kind == "ready") {
      std::string pid;
      in >> d.id >> pid >> d.role >> d.role_mono;
      d.ready = true;
      d.times_primary += d.role == "primary";
    } else if (kind == "role") {
      std::string id;
      double wall = 0;
      in >> id >> d.role >> wall >> d.role_mono;
      d.times_primary += d.role == "primary";
    }
  }

  std::string driver_;
  std::filesystem::path state_file_;
  std::vector<std::unique_ptr<Driver>> drivers_;
};

// Lets the fleet's event lines flow for `seconds`.
inline void pump_for(Fleet& fleet, double seconds) {
  const double until = mono_now() + seconds;
  fleet.wait_until([&] { return mono_now() > until; }, seconds + 5);
}

// SIGSTOPs `target` (a pid, or -pgid) at a moment when `stopped` (the driver
// process itself) does not hold the state file's lock, and returns the
// monotonic time the signal was sent; 0 if 50 attempts all caught it inside
// the lock. The others move past a stopped lock holder by replacing the lock
// file (lock_holder.h), which is another test's matter; the tests that stop a
// primary to see a takeover must not depend on it.
inline double stop_outside_state_lock(Fleet& fleet, pid_t target, pid_t stopped,
                                      const std::filesystem::path& lock_path) {
  const int lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CLOEXEC);
  if (lock_fd < 0) {
    return 0;
  }
  double stopped_at = 0;
  for (int attempt = 0; attempt < 50 && stopped_at == 0; ++attempt) {
    const double sent = mono_now();
    ::kill(target, SIGSTOP);
    if (!fleet.wait_until([&] { return process_state(stopped) == 'T'; }, 10)) {
      break;
    }
    if (::flock(lock_fd, LOCK_EX | LOCK_NB) == 0) {
      ::flock(lock_fd, LOCK_UN);
      stopped_at = sent;
    } else {
      ::kill(target, SIGCONT);
      pump_for(fleet, 0.02);
    }
  }
  ::close(lock_fd);
  return stopped_at;
}

inline double percentile(std::vector<double> v, double q) {
  if (v.empty()) {
    return 0;
  }
  std::sort(v.begin(), v.end());
  std::size_t i =
      std::min(v.size() - 1, static_cast<std::size_t>(q * static_cast<double>(v.size())));
  return v[i];
}

}  // namespace himalaya::coordinator::testing
