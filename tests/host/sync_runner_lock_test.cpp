// The sync runner's lock file: only the command holds it, it is free once the
// command exits, and a held lock or a symlink refuses a start.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "host/sync_runner.h"
#include "tests/host/sync_runner_fixture.h"
#include "tests/support/processes.h"

namespace himalaya::host {
namespace {

using himalaya::testing::all_pids;
using himalaya::testing::open_fds;
using testing::alive;
using testing::can_flock;
using testing::Completion;
using testing::live_group_members;
using testing::patience;
using testing::run_until;
using testing::SyncRunnerTest;
using testing::zombie_children;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

TEST_F(SyncRunnerTest, TheCommandHoldsTheLockAndNothingElseOfTheHost) {
  SyncRunner runner(io_, options({"sleep", "60"}));
  Completion completion;
  std::string error;
  ASSERT_TRUE(runner.start(completion.callback(), error)) << error;
  const int pid = runner.pid();
  ASSERT_GT(pid, 0);

  // The command has exec'd by the time start() returns, but the dynamic
  // loader still opens (and closes) its libraries for a moment: wait until
  // it is down to what it inherited, which must be exactly stdin on
  // /dev/null, stdout and stderr on one pipe, and the sync lock.
  std::map<int, std::string> fds;
  bool settled = run_until(io_, [&] {
    fds = open_fds(pid);
    return fds.size() == 4;
  });
  ASSERT_TRUE(settled) << fds.size() << " descriptors";
  EXPECT_EQ(fds[0], "/dev/null");
  EXPECT_EQ(fds[1].rfind("pipe:", 0), 0U) << fds[1];
  EXPECT_EQ(fds[1], fds[2]);
  int lock_fds = 0;
  for (const auto& [fd, target] : fds) {
    lock_fds += target == lock_file_.string() ? 1 : 0;
  }
  EXPECT_EQ(lock_fds, 1);
  // The host itself no longer holds it: only the command does.
  int host_lock_fds = 0;
  for (const auto& [fd, target] : open_fds(::getpid())) {
    host_lock_fds += target == lock_file_.string() ? 1 : 0;
  }
  EXPECT_EQ(host_lock_fds, 0);

  int error_number = 0;
  EXPECT_FALSE(can_flock(lock_file_, &error_number));
  EXPECT_EQ(error_number, EWOULDBLOCK);

  struct stat st {};
  ASSERT_EQ(::stat(lock_file_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600U);
  ASSERT_EQ(::stat(lock_file_.parent_path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700U);
  ASSERT_EQ(::stat(lock_file_.parent_path().parent_path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700U);

  runner.cancel();
  ASSERT_TRUE(run_until(io_, [&] { return completion.done(); }));
  EXPECT_TRUE(can_flock(lock_file_));
}

// The lock ends with the sync process, not with the host's handling of it: a
// host that is stopped (or just slow) after its command exited, and has not
// reaped it yet, does not keep another sync waiting.
TEST_F(SyncRunnerTest, TheLockIsFreeOnceTheCommandExitedEvenBeforeTheHostReapsIt) {
  SyncRunner runner(io_, options({"sleep", "0.2"}));
  Completion completion;
  std::string error;
  ASSERT_TRUE(runner.start(completion.callback(), error)) << error;
  const int pid = runner.pid();
  ASSERT_GT(pid, 0);
  EXPECT_FALSE(can_flock(lock_file_));
  // Without running io_: the runner sees nothing, as if the host were frozen.
  const auto deadline = std::chrono::steady_clock::now() + patience;
  while (alive(pid) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(2ms);
  }
  ASSERT_FALSE(alive(pid)) << "the command did not exit";
  EXPECT_TRUE(can_flock(lock_file_)) << "the lock outlived the sync command";
  EXPECT_TRUE(runner.running());
  ASSERT_TRUE(run_until(io_, [&] { return completion.done(); }));
  EXPECT_EQ(completion.result->outcome, SyncOutcome::ok);
}

TEST_F(SyncRunnerTest, RefusesToStartWhileTheLockIsHeld) {
  fs::create_directories(lock_file_.parent_path());
  int fd = ::open(lock_file_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);

  SyncRunner runner(io_, options({"true"}));
  Completion completion;
  std::string error;
  EXPECT_FALSE(runner.start(completion.callback(), error));
  EXPECT_EQ(error, "another sync holds the lock " + lock_file_.string());
  EXPECT_FALSE(runner.running());
  io_.poll();
  EXPECT_EQ(completion.calls, 0);

  ::close(fd);
  EXPECT_TRUE(runner.start(completion.callback(), error)) << error;
  ASSERT_TRUE(run_until(io_, [&] { return completion.done(); }));
  EXPECT_EQ(completion.result->outcome, SyncOutcome::ok);
}

TEST_F(SyncRunnerTest, RefusesASymlinkAsTheLock) {
  fs::create_directories(lock_file_.parent_path());
  fs::create_symlink(dir_ / "elsewhere", lock_file_);
  SyncRunner runner(io_, options({"true"}));
  Completion completion;
  std::string error;
  EXPECT_FALSE(runner.start(completion.callback(), error));
  EXPECT_EQ(error, "cannot lock " + lock_file_.string() + ": it is a symbolic link");
  EXPECT_FALSE(fs::exists(dir_ / "elsewhere"));
}

}  // namespace
}  // namespace himalaya::host
