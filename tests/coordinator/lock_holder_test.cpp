// The parts of lock_holder.h that read /proc: who holds a flock, and whether
// a process is stopped. StateFile's use of them is in state_file_test.cpp.
#include "coordinator/lock_holder.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <csignal>
#include <string>

#include "coordinator/state_file.h"
#include "coordinator/watch.h"
#include "test_support.h"

namespace himalaya::coordinator {
namespace {

namespace fs = std::filesystem;
using testing::Child;
using testing::fork_child;
using testing::is_stopped;
using testing::lock_holding_child;
using testing::TempDir;
using testing::wait_for;

TEST(LockHolderTest, ParsesTheFlockHolderFromProcLocks) {
  const std::string locks =
      "1: POSIX  ADVISORY  WRITE 100 fe:00:77 0 EOF\n"
      "2: FLOCK  ADVISORY  READ 101 fe:00:77 0 EOF\n"
      "3: FLOCK  ADVISORY  WRITE 102 fe:01:77 0 EOF\n"
      "4: FLOCK  ADVISORY  WRITE 103 fe:00:77 0 EOF\n"
      "4: -> FLOCK  ADVISORY  WRITE 104 fe:00:77 0 EOF\n"
      "5: FLOCK  ADVISORY  WRITE 105 00:2d:88 0 EOF\n"
      "6: FLOCK  ADVISORY  WRITE 0 fe:00:99 0 EOF\n";
  EXPECT_EQ(parse_flock_holder(locks, 0xfe, 0, 77), 103);  // the device decides
  EXPECT_EQ(parse_flock_holder(locks, 0xfe, 1, 77), 102);
  EXPECT_EQ(parse_flock_holder(locks, 0, 0x2d, 88), 105);
  // Another device than stat(2) says (btrfs): the inode alone, if only one matches.
  EXPECT_EQ(parse_flock_holder(locks, 0, 0x30, 88), 105);
  EXPECT_EQ(parse_flock_holder(locks, 0, 0x30, 77), std::nullopt);  // two candidates
  EXPECT_EQ(parse_flock_holder(locks, 0xfe, 0, 99), std::nullopt);  // pid 0: another namespace
  EXPECT_EQ(parse_flock_holder(locks, 0xfe, 0, 5), std::nullopt);
  EXPECT_EQ(parse_flock_holder("", 0xfe, 0, 77), std::nullopt);
  EXPECT_EQ(parse_flock_holder("garbage\n1: FLOCK\n", 0xfe, 0, 77), std::nullopt);
}

TEST(LockHolderTest, ParsesThreadStateAndContextSwitches) {
  EXPECT_EQ(parse_stat_state("42 (coord driver) T 1 42 42 0 -1"), 'T');
  EXPECT_EQ(parse_stat_state("42 (a) b)) S 1"), 'S');
  EXPECT_EQ(parse_stat_state("42 (a"), 0);
  EXPECT_EQ(parse_stat_state("42 (a)"), 0);
  EXPECT_EQ(parse_status_switches("Name:\tx\nvoluntary_ctxt_switches:\t7\n"
                                  "nonvoluntary_ctxt_switches:\t5\n"),
            12u);
  EXPECT_EQ(parse_status_switches("voluntary_ctxt_switches:\t7\n"), std::nullopt);
}

TEST(LockHolderTest, ObservesAStoppedProcessAndNoticesWhenItRan) {
  auto self = observe_process(::getpid());
  ASSERT_TRUE(self);
  EXPECT_FALSE(self->stopped);
  EXPECT_FALSE(observe_process(0));

  Child child{fork_child([]() -> int {
    for (;;) {
      ::pause();
    }
  })};
  ASSERT_EQ(::kill(child.pid, SIGSTOP), 0);
  ASSERT_TRUE(wait_for([&] { return is_stopped(child.pid); }, 10));
  const auto first = observe_process(child.pid);
  ASSERT_TRUE(first);
  const auto again = observe_process(child.pid);
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->stopped);
  EXPECT_EQ(again->switches, first->switches) << "a stopped process does not run";

  // Continued and stopped again: seen stopped both times, but it ran between.
  ASSERT_EQ(::kill(child.pid, SIGCONT), 0);
  ASSERT_TRUE(wait_for([&] { return !is_stopped(child.pid); }, 10));
  ASSERT_EQ(::kill(child.pid, SIGSTOP), 0);
  ASSERT_TRUE(wait_for([&] { return is_stopped(child.pid); }, 10));
  const auto later = observe_process(child.pid);
  ASSERT_TRUE(later);
  EXPECT_GT(later->switches, first->switches);
}

TEST(LockHolderTest, FlockHolderNamesTheProcessHoldingTheLock) {
  TempDir tmp;
  const fs::path lock = tmp.path() / "s.json.lock";
  Child child = lock_holding_child(lock, false);
  ASSERT_GT(child.pid, 0);
  const int fd = ::open(lock.c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(flock_holder(fd), child.pid);
  ::close(fd);
}

// The doorbell watches the lock file's name, so it rings for the lock file
// that replaced the one a stopped holder still holds.
TEST(LockHolderTest, TheDoorbellRingsForTheNewLockFile) {
  TempDir tmp;
  const fs::path file = tmp.path() / "s.json";
  StateFile sf(file, StateFile::Options{1 << 20, 10.0}, nullptr);
  ASSERT_TRUE(sf.update([](State&) { return true; }).ok());
  struct stat old_lock {};
  ASSERT_EQ(::stat(sf.lock_path().c_str(), &old_lock), 0);
  Child child = lock_holding_child(sf.lock_path(), true);
  ASSERT_GT(child.pid, 0);
  ASSERT_TRUE(wait_for([&] { return is_stopped(child.pid); }, 10));

  boost::asio::io_context io;
  DoorbellWatch bell(io);
  int rings = 0;
  ASSERT_TRUE(bell.watch(tmp.path(), sf.lock_path().filename().string(), [&] { ++rings; }));
  auto u = sf.update([](State& s) {
    s.primary = Lease{"nvim_1_1", 1, 1, ""};  // a new lease rings the doorbell
    return true;
  });
  ASSERT_TRUE(u.ok()) << u.error().message;
  struct stat new_lock {};
  ASSERT_EQ(::stat(sf.lock_path().c_str(), &new_lock), 0);
  ASSERT_NE(new_lock.st_ino, old_lock.st_ino) << "the lock file was not replaced";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (rings == 0 && std::chrono::steady_clock::now() < deadline) {
    io.run_for(std::chrono::milliseconds(10));
  }
  EXPECT_GE(rings, 1);
}

}  // namespace
}  // namespace himalaya::coordinator
