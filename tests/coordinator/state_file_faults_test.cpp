// Faults of the file system under the state file alone (issue #6, item 3):
// StateFile on real files, real mounts and a real lock holder. The runtime's
// answers to the same faults are in coordinator_file_faults_test.cpp.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "coordinator/state_file.h"
#include "fault_injection.h"
#include "test_support.h"

namespace himalaya::coordinator {
namespace {

namespace fs = std::filesystem;
using testing::count_aside;
using testing::DiskFiller;
using testing::MountGuard;
using testing::slurp;
using testing::spit;
using testing::TempDir;

TEST(StateFileFaultTest, NoSpaceFailsCleanlyAndKeepsTheOldFile) {
  TempDir tmp;
  fs::path dir = tmp.path() / "small";
  fs::create_directory(dir);
  auto mount = MountGuard::tmpfs(dir, "16k");
  if (!mount.ok()) {
    GTEST_SKIP() << "tmpfs for ENOSPC: " << mount.why();
  }
  fs::path file = dir / "sync_coordinator.json";
  StateFile sf(file);
  ASSERT_TRUE(sf.update([](State& s) {
                  s.last_sync_instance = "before";
                  return true;
                }).ok());
  const std::string before = slurp(file);
  DiskFiller filler(dir);
  ASSERT_TRUE(filler.full());

  auto u = sf.update([](State& s) {
    s.last_sync_instance = "after";
    s.extra["pad"] = std::string(6000, 'p');
    return true;
  });
  ASSERT_FALSE(u.ok());
  EXPECT_EQ(u.error().kind, Error::Kind::io);
  EXPECT_NE(u.error().message.find(std::strerror(ENOSPC)), std::string::npos) << u.error().message;
  EXPECT_EQ(slurp(file), before);  // the old JSON, whole
  auto r = sf.read();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().last_sync_instance, "before");
  for (const auto& e : fs::directory_iterator(dir)) {
    EXPECT_EQ(e.path().filename().string().find(".tmp-"), std::string::npos)
        << "a temporary file was left: " << e.path();
  }

  filler.release();
  auto again = sf.update([](State& s) {
    s.last_sync_instance = "after";
    return true;
  });
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(sf.read().value().last_sync_instance, "after");
}

TEST(StateFileFaultTest, EmptyFileIsAFreshStartNotACorruption) {
  TempDir tmp;
  fs::path file = tmp.path() / "sync_coordinator.json";
  spit(file, "");
  StateFile sf(file);
  auto r = sf.read();
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_FALSE(r.value().primary);
  auto u = sf.update([](State& s) {
    s.last_sync_instance = "me";
    return true;
  });
  ASSERT_TRUE(u.ok()) << u.error().message;
  EXPECT_FALSE(u.value().moved_aside);
  EXPECT_EQ(count_aside(tmp.path()), 0);
  EXPECT_EQ(sf.read().value().last_sync_instance, "me");
}

TEST(StateFileFaultTest, TruncatedFileIsMovedAsideWithItsContentAndRebuilt) {
  TempDir tmp;
  fs::path file = tmp.path() / "sync_coordinator.json";
  StateFile sf(file);
  ASSERT_TRUE(sf.update([](State& s) {
                  s.last_sync_instance = "nvim_1_1";
                  s.primary = Lease{"nvim_1_1", 5, 1, "0.9"};
                  return true;
                }).ok());
  const std::string whole = slurp(file);
  const std::string part = whole.substr(0, whole.size() / 2);
  spit(file, part);
  auto u = sf.update([](State&) { return false; });
  ASSERT_TRUE(u.ok()) << u.error().message;
  ASSERT_TRUE(u.value().moved_aside);
  EXPECT_EQ(u.value().moved_aside->parent_path(), tmp.path());
  EXPECT_EQ(u.value().moved_aside->filename().string().rfind("sync_coordinator.json.corrupt-", 0),
            0u);
  EXPECT_EQ(slurp(*u.value().moved_aside), part);
  EXPECT_TRUE(sf.read().ok());
}

// The lock file is deleted while an update holds the lock, and another writer
// (another StateFile, as another process would) creates and locks a new one
// and writes. The first update must notice before it publishes and redo its
// read-modify-write, so neither update is lost.
TEST(StateFileFaultTest, LockFileDeletedWhileHeldRedoesTheUpdateAndLosesNothing) {
  TempDir tmp;
  fs::path file = tmp.path() / "s.json";
  StateFile first(file);
  StateFile other(file);
  ASSERT_TRUE(first.update([](State&) { return true; }).ok());
  int runs = 0;
  auto u = first.update([&](State& s) {
    if (++runs == 1) {
      EXPECT_EQ(::unlink(first.lock_path().c_str()), 0);
      auto o = other.update([](State& t) {
        t.extra["other"] = "1";
        return true;
      });
      EXPECT_TRUE(o.ok()) << o.error().message;
    }
    s.extra["first"] = "1";
    return true;
  });
  ASSERT_TRUE(u.ok()) << u.error().message;
  EXPECT_EQ(runs, 2);
  auto r = first.read();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().extra.count("other"), 1u) << "the other writer's update was lost";
  EXPECT_EQ(r.value().extra.count("first"), 1u);
  EXPECT_TRUE(fs::exists(first.lock_path()));
}

// The same when the lock file is replaced (renamed over) rather than deleted.
TEST(StateFileFaultTest, LockFileReplacedWhileHeldRedoesTheUpdate) {
  TempDir tmp;
  fs::path file = tmp.path() / "s.json";
  StateFile first(file);
  ASSERT_TRUE(first.update([](State&) { return true; }).ok());
  int runs = 0;
  auto u = first.update([&](State& s) {
    if (++runs == 1) {
      spit(tmp.path() / "new.lock", "");
      ::chmod((tmp.path() / "new.lock").c_str(), 0600);
      EXPECT_EQ(::rename((tmp.path() / "new.lock").c_str(), first.lock_path().c_str()), 0);
    }
    s.extra["n"] = std::to_string(runs);
    return true;
  });
  ASSERT_TRUE(u.ok()) << u.error().message;
  EXPECT_EQ(runs, 2);
  EXPECT_EQ(first.read().value().extra.at("n"), "2");
}

// The state file is deleted while another process (here a thread of the test)
// holds the lock. The waiting update finds it gone once it gets the lock, and
// writes it anew.
TEST(StateFileFaultTest, StateFileDeletedWhileAnotherHoldsTheLockIsRecreatedByTheNextUpdate) {
  TempDir tmp;
  fs::path file = tmp.path() / "s.json";
  StateFile sf(file);
  ASSERT_TRUE(sf.update([](State& s) {
                  s.last_sync_instance = "x";
                  return true;
                }).ok());
  int fd = ::open(sf.lock_path().c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX), 0);
  std::thread holder([&] {
    ::unlink(file.c_str());
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    ::close(fd);
  });
  auto u = sf.update([](State& s) {
    EXPECT_TRUE(s.last_sync_instance.empty());  // it waited, and found the file gone
    s.last_sync_instance = "y";
    return true;
  });
  holder.join();
  ASSERT_TRUE(u.ok()) << u.error().message;
  EXPECT_GE(u.value().lock_wait, 0.05);
  EXPECT_EQ(sf.read().value().last_sync_instance, "y");
}

// Directories another user could rename entries in. See check_directory_safe()
// in state_file.cpp for the rule and its reasons.
struct DirCase {
  const char* name;
  mode_t mode;
  uid_t uid;  // -1: leave as is
  gid_t gid;
  bool refused;
  const char* why;
};

class DirectoryModeTest : public ::testing::TestWithParam<DirCase> {};

TEST_P(DirectoryModeTest, StateDirectory) {
  const DirCase& c = GetParam();
  if ((c.uid != static_cast<uid_t>(-1) || c.gid != static_cast<gid_t>(-1)) && ::geteuid() != 0) {
    GTEST_SKIP() << "needs root to chown";
  }
  TempDir tmp;
  fs::path dir = tmp.path() / "himalaya";
  fs::create_directory(dir);
  ASSERT_EQ(::chmod(dir.c_str(), c.mode), 0);
  ASSERT_EQ(::chown(dir.c_str(), c.uid, c.gid), 0);
  StateFile sf(dir / "sync_coordinator.json");
  auto u = sf.update([](State&) { return true; });
  if (!c.refused) {
    EXPECT_TRUE(u.ok()) << u.error().message;
    return;
  }
  ASSERT_FALSE(u.ok());
  EXPECT_EQ(u.error().kind, Error::Kind::refused);
  EXPECT_NE(u.error().message.find(dir.string()), std::string::npos) << u.error().message;
  EXPECT_NE(u.error().message.find(c.why), std::string::npos) << u.error().message;
  EXPECT_FALSE(fs::exists(dir / "sync_coordinator.json"));
}

const uid_t keep_uid = static_cast<uid_t>(-1);
const gid_t keep_gid = static_cast<gid_t>(-1);

INSTANTIATE_TEST_SUITE_P(
    Modes, DirectoryModeTest,
    ::testing::Values(
        DirCase{"private", 0700, keep_uid, keep_gid, false, ""},
        DirCase{"world_readable", 0755, keep_uid, keep_gid, false, ""},
        DirCase{"world_writable", 0777, keep_uid, keep_gid, true, "writable by every user"},
        DirCase{"world_writable_sticky", 01777, keep_uid, keep_gid, false, ""},
        DirCase{"group_writable_own_group", 0770, keep_uid, keep_gid, false, ""},
        DirCase{"group_writable_other_group", 0770, keep_uid, 65534, true,
                "writable by group 65534"},
        DirCase{"owned_by_another_user", 0700, 65534, keep_gid, true, "owned by uid 65534"},
        DirCase{"owned_by_another_user_sticky", 01777, 65534, keep_gid, true,
                "owned by uid 65534"}),
    [](const ::testing::TestParamInfo<DirCase>& p) { return std::string(p.param.name); });

TEST(StateFileFaultTest, WorldWritableAncestorIsRefusedToo) {
  TempDir tmp;
  fs::path shared = tmp.path() / "shared";
  fs::create_directories(shared / "me");
  ASSERT_EQ(::chmod(shared.c_str(), 0777), 0);
  StateFile sf(shared / "me" / "s.json");
  auto u = sf.update([](State&) { return true; });
  ASSERT_FALSE(u.ok());
  EXPECT_NE(u.error().message.find(shared.string() + " (mode 0777)"), std::string::npos)
      << u.error().message;
}

TEST(StateFileFaultTest, SymlinkedDirectoryIsFollowedAndItsTargetChecked) {
  TempDir tmp;
  fs::create_directory(tmp.path() / "real");
  fs::create_directory_symlink(tmp.path() / "real", tmp.path() / "link");
  StateFile sf(tmp.path() / "link" / "s.json");
  ASSERT_TRUE(sf.update([](State&) { return true; }).ok());
  EXPECT_TRUE(fs::exists(tmp.path() / "real" / "s.json"));
  ASSERT_EQ(::chmod((tmp.path() / "real").c_str(), 0777), 0);
  auto u = sf.update([](State&) { return true; });
  ASSERT_FALSE(u.ok());
  EXPECT_NE(u.error().message.find((tmp.path() / "real").string()), std::string::npos)
      << u.error().message;
}

}  // namespace
}  // namespace himalaya::coordinator
