// The fixture of the sync runner tests (sync_runner_*_test.cpp): a temporary
// directory with the lock file's path, options for a runner, a completion
// recorder, and waits on the command's process group with deadlines. The
// deadlines are generous because CI is a loaded 2-core machine, while a
// passing test takes well under two seconds.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <system_error>
#include <vector>

#include "host/sync_runner.h"
#include "tests/support/files.h"
#include "tests/support/processes.h"
#include "tests/support/run_loop.h"

namespace himalaya::host::testing {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

inline constexpr auto patience = 10s;  // for things that take milliseconds when all is well

using himalaya::testing::run_until;

// Dead means gone or a zombie: PID 1 here does not necessarily reap orphans.
inline bool alive(int pid) {
  const auto stat = himalaya::testing::proc_stat(pid);
  return stat && stat->state != 'Z' && stat->state != 'X';
}

inline std::set<int> live_group_members(int pgid) {
  std::set<int> members;
  for (int pid : himalaya::testing::all_pids()) {
    const auto stat = himalaya::testing::proc_stat(pid);
    if (stat && stat->pgid == pgid && stat->state != 'Z' && stat->state != 'X') {
      members.insert(pid);
    }
  }
  return members;
}

// Zombies whose parent is this test process: a launch that failed must not
// leave one behind.
inline int zombie_children() {
  int count = 0;
  for (int pid : himalaya::testing::all_pids()) {
    const auto stat = himalaya::testing::proc_stat(pid);
    if (stat && stat->ppid == ::getpid() && stat->state == 'Z') {
      ++count;
    }
  }
  return count;
}

// Whether this process could take the lock on `path` now (and the errno when not).
inline bool can_flock(const fs::path& path, int* error_number = nullptr) {
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    if (error_number != nullptr) {
      *error_number = errno;
    }
    return false;
  }
  bool locked = ::flock(fd, LOCK_EX | LOCK_NB) == 0;
  if (!locked && error_number != nullptr) {
    *error_number = errno;
  }
  ::close(fd);
  return locked;
}

// Collects the completion of runs; counts calls so that "exactly once" shows.
struct Completion {
  int calls = 0;
  std::optional<SyncRun> result;

  SyncRunner::Callback callback() {
    return [this](const SyncRun& run) {
      ++calls;
      result = run;
    };
  }
  bool done() const { return calls > 0; }
};

class SyncRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = himalaya::testing::make_temp_dir("sync_runner_test.");
    lock_file_ = dir_ / "run" / "himalaya" / "mbsync.lock";
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  SyncRunner::Options options(std::vector<std::string> command, double timeout = 30,
                              double kill_grace = 0.2) const {
    SyncRunner::Options o;
    o.command = std::move(command);
    o.timeout = timeout;
    o.lock_file = lock_file_;
    o.kill_grace = kill_grace;
    return o;
  }

  // Starts `command` and runs it to completion.
  SyncRun run_to_end(std::vector<std::string> command, double timeout = 30) {
    SyncRunner runner(io_, options(std::move(command), timeout));
    Completion completion;
    std::string error;
    EXPECT_TRUE(runner.start(completion.callback(), error)) << error;
    EXPECT_TRUE(run_until(io_, [&] { return completion.done(); }));
    EXPECT_EQ(completion.calls, 1);
    EXPECT_FALSE(runner.running());
    return completion.result.value_or(SyncRun{});
  }

  // Waits until the group `pgid` has `count` live members, and returns them.
  std::set<int> wait_for_members(int pgid, std::size_t count) {
    std::set<int> members;
    run_until(io_, [&] {
      members = live_group_members(pgid);
      return members.size() >= count;
    });
    return members;
  }

  // Waits until no process of the group `pgid`, and none of `members`, is
  // alive. The runner has sent SIGKILL by the time the run ends, but the
  // kernel finishes off the members asynchronously.
  bool wait_until_group_ended(int pgid, const std::set<int>& members = {}) {
    return run_until(io_, [&] {
      return live_group_members(pgid).empty() &&
             std::none_of(members.begin(), members.end(), alive);
    });
  }

  boost::asio::io_context io_;
  fs::path dir_;
  fs::path lock_file_;
};

}  // namespace himalaya::host::testing
