#include "coordinator/state_file.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <thread>
#include <vector>

#include "coordinator/lock_holder.h"
#include "test_support.h"

namespace himalaya::coordinator {
namespace {

namespace fs = std::filesystem;
using testing::Child;
using testing::exit_code;
using testing::fork_child;
using testing::is_stopped;
using testing::lock_holding_child;
using testing::slurp;
using testing::spit;
using testing::TempDir;
using testing::wait_for;

mode_t mode_of(const fs::path& p) {
  struct stat st {};
  ::lstat(p.c_str(), &st);
  return st.st_mode & 07777;
}

int count_corrupt(const fs::path& dir) {
  int n = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    n += e.path().filename().string().find(".corrupt-") != std::string::npos;
  }
  return n;
}

TEST(StateFileTest, MissingFileReadsEmptyAndUpdateCreatesDirectoriesAndFile) {
  TempDir tmp;
  fs::path file = tmp.path() / "a" / "b" / "sync_coordinator.json";
  StateFile sf(file);
  auto r = sf.read();
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r.value().primary);

  auto u = sf.update([](State& s) {
    s.last_sync_instance = "me";
    return true;
  });
  ASSERT_TRUE(u.ok()) << u.error().message;
  EXPECT_TRUE(u.value().written);
  EXPECT_EQ(mode_of(tmp.path() / "a"), 0700u);
  EXPECT_EQ(mode_of(tmp.path() / "a" / "b"), 0700u);
  EXPECT_EQ(mode_of(file), 0600u);
  EXPECT_EQ(mode_of(sf.lock_path()), 0600u);
  auto back = sf.read();
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back.value().last_sync_instance, "me");
  EXPECT_GT(back.value().created, 0);
  EXPECT_GT(back.value().last_modified, 0);
}

TEST(StateFileTest, NoWriteWhenMutationSaysSo) {
  TempDir tmp;
  StateFile sf(tmp.path() / "s.json");
  auto u = sf.update([](State&) { return false; });
  ASSERT_TRUE(u.ok());
  EXPECT_FALSE(u.value().written);
  EXPECT_FALSE(fs::exists(tmp.path() / "s.json"));
}

TEST(StateFileTest, ExistingFileModeIsRepairedTo0600) {
  TempDir tmp;
  fs::path file = tmp.path() / "s.json";
  spit(file, "{}");
  ::chmod(file.c_str(), 0644);
  StateFile sf(file);
  ASSERT_TRUE(sf.update([](State&) { return true; }).ok());
  EXPECT_EQ(mode_of(file), 0600u);
}

// The file's text is made when the test runs, not when the case is
// registered: every test process of this binary registers every case, and
// copying a 10 MiB text at each start cost seconds per test under TSan.
struct CorruptCase {
  const char* name;
  std::string (*text)();
};

class CorruptFileTest : public ::testing::TestWithParam<CorruptCase> {};

TEST_P(CorruptFileTest, IsMovedAsideAndRebuilt) {
  TempDir tmp;
  fs::path file = tmp.path() / "sync_coordinator.json";
  const std::string text = GetParam().text();
  spit(file, text);
  StateFile sf(file);
  auto r = sf.read();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, Error::Kind::corrupt);

  auto u = sf.update([](State& s) {
    EXPECT_FALSE(s.primary);
    return false;  // even so, the rebuilt file is written
  });
  ASSERT_TRUE(u.ok()) << u.error().message;
  EXPECT_TRUE(u.value().written);
  ASSERT_TRUE(u.value().moved_aside);
  EXPECT_NE(u.value().moved_aside->filename().string().find("sync_coordinator.json.corrupt-"),
            std::string::npos);
  EXPECT_EQ(slurp(*u.value().moved_aside), text);
  EXPECT_TRUE(sf.read().ok());
  EXPECT_EQ(count_corrupt(tmp.path()), 1);
}

std::string random_bytes() {
  std::string s(4096, '\0');
  unsigned x = 12345;
  for (char& c : s) {
    x = x * 1103515245 + 12345;
    c = static_cast<char>(x >> 16);
  }
  return s;
}

std::string wrong_types() {
  return R"({"primary":{"instance_id":[1]}})";
}

std::string truncated() {
  return R"({"version":2,"primary":{"instance_id":"nv)";
}

std::string oversized() {
  return "{\"pad\":\"" + std::string(10 << 20, 'x') + "\"}";
}

INSTANTIATE_TEST_SUITE_P(
    Cases, CorruptFileTest,
    // An empty file is a fresh start, not a corruption (state_file_faults_test.cpp).
    ::testing::Values(CorruptCase{"random", random_bytes}, CorruptCase{"wrong_types", wrong_types},
                      CorruptCase{"truncated", truncated}, CorruptCase{"oversized", oversized}),
    [](const ::testing::TestParamInfo<CorruptCase>& p) { return std::string(p.param.name); });

TEST(StateFileTest, TwoCorruptionsInOneSecondKeepBothCopies) {
  TempDir tmp;
  fs::path file = tmp.path() / "s.json";
  auto clock = std::make_shared<FakeClock>();
  StateFile sf(file, StateFile::Options{}, clock);
  spit(file, "garbage 1");
  ASSERT_TRUE(sf.update([](State&) { return false; }).ok());
  spit(file, "garbage 2");
  ASSERT_TRUE(sf.update([](State&) { return false; }).ok());
  EXPECT_EQ(count_corrupt(tmp.path()), 2);
}

TEST(StateFileTest, SymlinkStateFileIsRefused) {
  TempDir tmp;
  fs::path target = tmp.path() / "elsewhere.json";
  spit(target, "{}");
  fs::path file = tmp.path() / "s.json";
  fs::create_symlink(target, file);
  StateFile sf(file);
  auto r = sf.read();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, Error::Kind::refused);
  EXPECT_NE(r.error().message.find("symbolic link"), std::string::npos);
  auto u = sf.update([](State&) { return true; });
  ASSERT_FALSE(u.ok());
  EXPECT_EQ(u.error().kind, Error::Kind::refused);
  EXPECT_EQ(slurp(target), "{}");  // untouched
  EXPECT_TRUE(fs::is_symlink(file));
}

TEST(StateFileTest, SymlinkLockFileIsRefused) {
  TempDir tmp;
  fs::path file = tmp.path() / "s.json";
  spit(tmp.path() / "other", "");
  fs::create_symlink(tmp.path() / "other", tmp.path() / "s.json.lock");
  StateFile sf(file);
  auto u = sf.update([](State&) { return true; });
  ASSERT_FALSE(u.ok());
  EXPECT_EQ(u.error().kind, Error::Kind::refused);
}

TEST(StateFileTest, FileOwnedByAnotherUserIsRefused) {
  if (::geteuid() != 0) {
    GTEST_SKIP() << "needs root to chown";
  }
  TempDir tmp;
  fs::path file = tmp.path() / "s.json";
  spit(file, "{}");
  ASSERT_EQ(::chown(file.c_str(), 65534, 65534), 0);
  StateFile sf(file);
  auto r = sf.read();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, Error::Kind::refused);
  EXPECT_NE(r.error().message.find("owned by uid 65534"), std::string::npos);
  auto u = sf.update([](State&) { return true; });
  ASSERT_FALSE(u.ok());
  EXPECT_EQ(u.error().kind, Error::Kind::refused);
  EXPECT_EQ(slurp(file), "{}");
}

TEST(StateFileTest, DirectoryAsStateFileIsRefused) {
  TempDir tmp;
  fs::create_directory(tmp.path() / "s.json");
  StateFile sf(tmp.path() / "s.json");
  auto r = sf.read();
  EXPECT_FALSE(r.ok());
}

TEST(StateFileTest, LockWaitIsBounded) {
  TempDir tmp;
  fs::path file = tmp.path() / "s.json";
  StateFile sf(file, StateFile::Options{1 << 20, 0.2}, nullptr);
  ASSERT_TRUE(sf.update([](State&) { return true; }).ok());
  int fd = ::open(sf.lock_path().c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX), 0);
  auto start = std::chrono::steady_clock::now();
  auto u = sf.update([](State&) { return true; });
  double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_FALSE(u.ok());
  EXPECT_EQ(u.error().kind, Error::Kind::lock_timeout);
  EXPECT_GE(waited, 0.19);
  EXPECT_LT(waited, 2.0);
  ::close(fd);
  EXPECT_TRUE(sf.update([](State&) { return true; }).ok());
}

TEST(StateFileTest, KeepWaitingReplacesTheLockTimeout) {
  TempDir tmp;
  fs::path file = tmp.path() / "s.json";
  StateFile sf(file, StateFile::Options{1 << 20, 60}, nullptr);
  ASSERT_TRUE(sf.update([](State&) { return true; }).ok());
  int fd = ::open(sf.lock_path().c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX), 0);
  std::vector<double> asked;
  bool mutated = false;
  auto u = sf.update(
      [&](State&) {
        mutated = true;
        return true;
      },
      [&](double waited) {
        asked.push_back(waited);
        return waited < 0.1;
      });
  ASSERT_FALSE(u.ok());
  EXPECT_EQ(u.error().kind, Error::Kind::lock_timeout);
  EXPECT_FALSE(mutated);
  ASSERT_GE(asked.size(), 2u);
  EXPECT_TRUE(std::is_sorted(asked.begin(), asked.end()));
  EXPECT_GE(asked.back(), 0.1);  // the wait ended when it said so, not after 60 s
  EXPECT_LT(asked.back(), 30.0);
  // Once the lock is free, it is not asked at all.
  ::close(fd);
  asked.clear();
  EXPECT_TRUE(sf.update([](State&) { return true; },
                        [&](double waited) {
                          asked.push_back(waited);
                          return false;
                        })
                  .ok());
  EXPECT_TRUE(asked.empty());
}

TEST(StateFileTest, UpdatesAreSerialisedAcrossThreads) {
  TempDir tmp;
  fs::path file = tmp.path() / "s.json";
  auto worker = [&] {
    StateFile sf(file);  // one StateFile per thread, like one per process
    for (int i = 0; i < 200; ++i) {
      auto u = sf.update([](State& s) {
        auto it = s.extra.find("counter");
        long n = it == s.extra.end() ? 0 : std::stol(it->second);
        s.extra["counter"] = std::to_string(n + 1);
        return true;
      });
      ASSERT_TRUE(u.ok()) << u.error().message;
    }
  };
  std::thread a(worker), b(worker);
  a.join();
  b.join();
  auto r = StateFile(file).read();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().extra.at("counter"), "400");
}

TEST(StateFileTest, DoorbellTouchesLockFileOnlyWhenLeaseChanges) {
  TempDir tmp;
  StateFile sf(tmp.path() / "s.json");
  ASSERT_TRUE(sf.update([](State&) { return true; }).ok());
  auto mtime = [&] {
    struct stat st {};
    ::stat(sf.lock_path().c_str(), &st);
    return st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
  };
  auto t0 = mtime();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_TRUE(sf.update([](State& s) {
                  s.last_sync_time = 5;
                  return true;
                }).ok());
  EXPECT_EQ(mtime(), t0);
  ASSERT_TRUE(sf.update([](State& s) {
                  s.primary = Lease{"nvim_1_1", 1, 1, ""};
                  return true;
                }).ok());
  EXPECT_GT(mtime(), t0);
}

// ---- A stopped lock holder (issue 12; lock_holder.h) ----

ino_t inode_of(const fs::path& p) {
  struct stat st {};
  ::lstat(p.c_str(), &st);
  return st.st_ino;
}

TEST(StateFileTest, AStoppedLockHolderIsMovedPastWellWithinTheLockTimeout) {
  TempDir tmp;
  fs::path file = tmp.path() / "s.json";
  StateFile sf(file, StateFile::Options{1 << 20, 10.0}, nullptr);
  ASSERT_TRUE(sf.update([](State&) { return true; }).ok());
  const ino_t old_lock = inode_of(sf.lock_path());
  Child child = lock_holding_child(sf.lock_path(), true);
  ASSERT_GT(child.pid, 0);
  ASSERT_TRUE(wait_for([&] { return is_stopped(child.pid); }, 10));

  auto u = sf.update([](State& s) {
    s.last_sync_instance = "me";
    return true;
  });
  ASSERT_TRUE(u.ok()) << u.error().message;
  EXPECT_TRUE(u.value().written);
  EXPECT_LT(u.value().lock_wait, 5.0) << "it waited for the lock timeout";
  EXPECT_NE(inode_of(sf.lock_path()), old_lock) << "the lock file was not replaced";
  EXPECT_EQ(sf.read().value().last_sync_instance, "me");
  // The new generation serves the next update at once.
  auto next = sf.update([](State&) { return true; });
  ASSERT_TRUE(next.ok());
  EXPECT_LT(next.value().lock_wait, 0.05);
}

TEST(StateFileTest, ARunningLockHolderStillEndsTheWaitAtTheLockTimeout) {
  TempDir tmp;
  fs::path file = tmp.path() / "s.json";
  StateFile sf(file, StateFile::Options{1 << 20, 0.3}, nullptr);
  ASSERT_TRUE(sf.update([](State&) { return true; }).ok());
  const ino_t old_lock = inode_of(sf.lock_path());
  Child child = lock_holding_child(sf.lock_path(), false);  // asleep, not stopped
  ASSERT_GT(child.pid, 0);
  auto u = sf.update([](State&) { return true; });
  ASSERT_FALSE(u.ok());
  EXPECT_EQ(u.error().kind, Error::Kind::lock_timeout);
  EXPECT_EQ(inode_of(sf.lock_path()), old_lock) << "the lock of a running holder was replaced";
}

void stop_once() {
  static bool stopped = false;
  if (!stopped) {
    stopped = true;
    ::raise(SIGSTOP);
  }
}

// The worst moment: a writer stopped with its write prepared, after its last
// name check, just before the rename that publishes it. Another process moves
// past it and writes; when it resumes, its stale write must not land. It
// redoes its update on the newer state instead.
TEST(StateFileTest, AWriterStoppedBeforeItsRenameCannotPublishWhenItResumes) {
  TempDir tmp;
  fs::path file = tmp.path() / "s.json";
  StateFile sf(file, StateFile::Options{1 << 20, 10.0}, nullptr);
  ASSERT_TRUE(sf.update([](State& s) {
                  s.last_sync_time = 1;
                  return true;
                }).ok());
  Child child{fork_child([&] {
    set_before_publish_hook(stop_once);
    StateFile mine(file, StateFile::Options{1 << 20, 10.0}, nullptr);
    int runs = 0;
    auto u = mine.update([&](State& s) {
      ++runs;
      s.extra["child"] = std::to_string(static_cast<int>(s.last_sync_time));
      return true;
    });
    return u.ok() ? runs : 100;
  })};
  ASSERT_TRUE(wait_for([&] { return is_stopped(child.pid); }, 10));

  auto u = sf.update([](State& s) {
    s.last_sync_time = 2;
    return true;
  });
  ASSERT_TRUE(u.ok()) << u.error().message;
  ASSERT_EQ(::kill(child.pid, SIGCONT), 0);
  const int runs = exit_code(child.pid);
  child.pid = -1;
  EXPECT_EQ(runs, 2) << "the resumed writer did not redo its update";
  auto r = sf.read();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().last_sync_time, 2) << "the stale write was published";
  EXPECT_EQ(r.value().extra["child"], "2");  // its redone update, on the newer state
}

// The writer above, stopped for longer than its lock timeout. The time it
// spent stopped is no wait for the lock: when it resumes and finds the new
// lock busy for a moment, it waits for it rather than timing out at once.
TEST(StateFileTest, AFencedWriterGetsAFullLockWaitAfterItResumes) {
  TempDir tmp;
  fs::path file = tmp.path() / "s.json";
  StateFile sf(file, StateFile::Options{1 << 20, 10.0}, nullptr);
  ASSERT_TRUE(sf.update([](State&) { return true; }).ok());
  const double child_timeout = 0.5;
  Child child{fork_child([&] {
    set_before_publish_hook(stop_once);
    StateFile mine(file, StateFile::Options{1 << 20, child_timeout}, nullptr);
    return mine.update([](State&) { return true; }).ok() ? 0 : 1;
  })};
  ASSERT_TRUE(wait_for([&] { return is_stopped(child.pid); }, 10));
  const auto stopped_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(sf.update([](State&) { return true; }).ok());  // moves past it
  // Stopped past its lock timeout; then it resumes with the lock busy.
  std::this_thread::sleep_until(stopped_at + std::chrono::duration<double>(child_timeout * 2));
  const int fd = ::open(sf.lock_path().c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX), 0);
  ASSERT_EQ(::kill(child.pid, SIGCONT), 0);
  std::this_thread::sleep_for(std::chrono::duration<double>(child_timeout / 2));
  ::close(fd);
  EXPECT_EQ(exit_code(child.pid), 0) << "the resumed writer timed out at once";
  child.pid = -1;
}

}  // namespace
}  // namespace himalaya::coordinator
