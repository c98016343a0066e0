// Faults of the file system, the clocks and the process table (issue #6,
// items 3 and 4), each checked against the behaviour SPEC §5 and §7 give:
// the state file and the runtime on real files, with real (scaled) time.
//
// Tests that mount (a full tmpfs, a read-only bind mount) need root and a
// kernel that lets us mount; they skip with the reason otherwise. Every mount
// is undone by a guard, even when the test fails.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <functional>
#include <thread>
#include <utility>

#include "coordinator/coordinator.h"
#include "coordinator/state_file.h"
#include "recorder.h"
#include "test_support.h"
#include "tests/support/run_loop.h"

namespace himalaya::coordinator {
namespace {

namespace fs = std::filesystem;
using himalaya::testing::run_for;
using himalaya::testing::run_in_slices_until;
using testing::any_contains;
using testing::mono_now;
using testing::Recorder;
using testing::slurp;
using testing::spit;
using testing::TempDir;

// Mounts on a directory for the life of the guard. ok() is false, and why()
// says why, if the mount was not possible (not root, not permitted).
class MountGuard {
 public:
  // A tmpfs of `size` bytes on dir.
  static MountGuard tmpfs(const fs::path& dir, const std::string& size) {
    MountGuard g(dir);
    const std::string options = "size=" + size + ",mode=0700";
    g.mount("tmpfs", "tmpfs", 0, options.c_str());
    return g;
  }
  // dir bound onto itself and made read-only.
  static MountGuard read_only(const fs::path& dir) {
    MountGuard g(dir);
    if (g.mount(dir.c_str(), nullptr, MS_BIND, nullptr)) {
      g.remount(true);
    }
    return g;
  }

  MountGuard(MountGuard&& other) noexcept
      : dir_(std::move(other.dir_)),
        mounted_(std::exchange(other.mounted_, false)),
        why_(std::move(other.why_)) {}
  MountGuard& operator=(MountGuard&&) = delete;
  MountGuard(const MountGuard&) = delete;
  MountGuard& operator=(const MountGuard&) = delete;
  ~MountGuard() {
    if (mounted_) {
      ::umount2(dir_.c_str(), MNT_DETACH);
    }
  }

  bool ok() const { return mounted_ && why_.empty(); }
  const std::string& why() const { return why_; }

  // For the bind mount: read-only or back to read-write.
  bool remount(bool read_only) {
    unsigned long flags = MS_REMOUNT | MS_BIND;
    if (read_only) {
      flags |= MS_RDONLY;
    }
    if (::mount(nullptr, dir_.c_str(), nullptr, flags, nullptr) != 0) {
      why_ = std::string("remount failed: ") + std::strerror(errno);
      return false;
    }
    return true;
  }

 private:
  explicit MountGuard(fs::path dir) : dir_(std::move(dir)) {}

  bool mount(const char* source, const char* type, unsigned long flags, const char* data) {
    if (::geteuid() != 0) {
      why_ = "needs root to mount";
      return false;
    }
    if (::mount(source, dir_.c_str(), type, flags, data) != 0) {
      why_ = std::string("mount not permitted here: ") + std::strerror(errno);
      return false;
    }
    mounted_ = true;
    return true;
  }

  fs::path dir_;
  bool mounted_ = false;
  std::string why_;
};

// Fills the file system holding dir until a write fails with ENOSPC; the
// filler file is removed on destruction, which gives the space back.
class DiskFiller {
 public:
  explicit DiskFiller(fs::path dir) : path_(std::move(dir) / "filler") {
    int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
      return;
    }
    const std::string block(512, 'x');
    for (;;) {
      ssize_t n = ::write(fd, block.data(), block.size());
      if (n < 0) {
        full_ = errno == ENOSPC;
        break;
      }
      if (n < static_cast<ssize_t>(block.size())) {
        continue;  // a short write: the next one tells
      }
    }
    ::close(fd);
  }
  ~DiskFiller() { release(); }
  DiskFiller(const DiskFiller&) = delete;
  DiskFiller& operator=(const DiskFiller&) = delete;
  bool full() const { return full_; }
  void release() { ::unlink(path_.c_str()); }

 private:
  fs::path path_;
  bool full_ = false;
};

int count_aside(const fs::path& dir) {
  int n = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    n += e.path().filename().string().find(".corrupt-") != std::string::npos;
  }
  return n;
}

// A clock whose wall time can be set forward or back while the monotonic and
// boot clocks run on, as when someone sets the system clock. Timers of the
// io_context run on real time, so the runtime can be exercised with it.
class JumpingClock final : public Clock {
 public:
  double wall() const override { return real_.wall() + offset_; }
  double monotonic() const override { return real_.monotonic(); }
  double boottime() const override { return real_.boottime(); }
  void jump_wall(double seconds) { offset_ += seconds; }

 private:
  SystemClock real_;
  double offset_ = 0;
};

// ---------------------------------------------------------------------------
// The state file alone.

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

// ---------------------------------------------------------------------------
// The runtime.

class CoordinatorFaultTest : public ::testing::Test {
 protected:
  fs::path dir() const { return tmp_.path() / "himalaya"; }
  Config config() const {
    Config c;
    c.state_file = dir() / "sync_coordinator.json";
    c.timings.interval = 60;
    c.timings.startup_delay = 0.05;
    c.timings.heartbeat_interval = 0.05;
    c.timings.takeover_threshold = 0.5;
    c.timings.sync_cooldown = 30;
    c.timings.sync_timeout = 10;
    return c;
  }
  std::unique_ptr<Coordinator> make(const std::string& name, Recorder& rec, Config c,
                                    double started_at,
                                    std::shared_ptr<const Clock> clock = nullptr) {
    Identity id = make_identity(::getpid(), "test", SystemClock{}, ProcProbe{}, name);
    id.started_at = started_at;
    return std::make_unique<Coordinator>(io_, std::move(c), id, std::move(clock), rec.events());
  }
  State file_state() const {
    auto r = StateFile(config().state_file).read();
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r.ok() ? r.value() : State{};
  }
  // An instance that syncs whenever it is due, for a moment.
  static void sync_when_due(Recorder& rec, Coordinator*& who) {
    rec.on_due = [&who] {
      auto g = who->begin_sync(SyncTrigger::automatic);
      EXPECT_TRUE(g.granted) << g.reason;
      if (g.granted) {
        who->end_sync(SyncOutcome::ok, "");
      }
    };
  }

  TempDir tmp_;
  boost::asio::io_context io_;
};

TEST_F(CoordinatorFaultTest, NoSpaceDegradesOnceKeepsTheOldFileAndRecovers) {
  fs::create_directories(dir());
  auto mount = MountGuard::tmpfs(dir(), "16k");
  if (!mount.ok()) {
    GTEST_SKIP() << "tmpfs for ENOSPC: " << mount.why();
  }
  Config c = config();
  c.timings.interval = 0.2;
  c.timings.sync_cooldown = 0.1;
  Recorder ra;
  auto a = make("nvim_1_1", ra, c, 1);
  Coordinator* who = a.get();
  sync_when_due(ra, who);
  a->start();
  ASSERT_EQ(a->role(), Role::primary);
  ASSERT_TRUE(run_in_slices_until(io_, [&] { return ra.sync_due >= 1; }));
  const std::string before = slurp(c.state_file);
  DiskFiller filler(dir());
  ASSERT_TRUE(filler.full());

  ASSERT_TRUE(run_in_slices_until(io_, [&] { return a->role() == Role::uncoordinated; }));
  const int due_when_degraded = ra.sync_due;
  // Several heartbeats (each one a retry) and syncs on its own timer.
  ASSERT_TRUE(run_in_slices_until(io_, [&] { return ra.sync_due >= due_when_degraded + 3; }));
  ASSERT_EQ(ra.warnings.size(), 1u);
  EXPECT_NE(ra.warnings[0].find(std::strerror(ENOSPC)), std::string::npos) << ra.warnings[0];
  EXPECT_NE(a->status().problem.find(std::strerror(ENOSPC)), std::string::npos);
  EXPECT_EQ(slurp(c.state_file), before);  // every write failed; the old JSON is intact
  EXPECT_TRUE(StateFile(c.state_file).read().ok());

  filler.release();
  ASSERT_TRUE(run_in_slices_until(io_, [&] { return a->role() == Role::primary; }));
  EXPECT_TRUE(a->status().problem.empty());
  EXPECT_EQ(ra.warnings.size(), 1u);
  EXPECT_TRUE(any_contains(ra.debugs, "coordination restored"));
  EXPECT_EQ(file_state().primary->instance_id, "nvim_1_1");
  a->stop();
}

TEST_F(CoordinatorFaultTest, ReadOnlyDirectoryDegradesOnceKeepsRetryingAndRecovers) {
  fs::create_directories(dir());
  Config c = config();
  c.timings.interval = 0.2;
  c.timings.sync_cooldown = 0.1;
  Recorder ra, rb;
  auto a = make("nvim_1_1", ra, c, 1);
  auto b = make("nvim_2_2", rb, c, 2);
  Coordinator* who = a.get();
  sync_when_due(ra, who);
  a->start();
  b->start();
  ASSERT_EQ(a->role(), Role::primary);
  ASSERT_EQ(b->role(), Role::secondary);
  auto mount = MountGuard::read_only(dir());
  if (!mount.ok()) {
    GTEST_SKIP() << "read-only bind mount: " << mount.why();
  }
  ASSERT_TRUE(run_in_slices_until(
      io_, [&] { return a->role() == Role::uncoordinated && b->role() == Role::uncoordinated; }));
  const int due_when_degraded = ra.sync_due;
  ASSERT_TRUE(run_in_slices_until(io_, [&] { return ra.sync_due >= due_when_degraded + 3; }));
  for (Recorder* r : {&ra, &rb}) {
    ASSERT_EQ(r->warnings.size(), 1u);
    EXPECT_NE(r->warnings[0].find(std::strerror(EROFS)), std::string::npos) << r->warnings[0];
  }
  EXPECT_TRUE(StateFile(c.state_file).read().ok());

  ASSERT_TRUE(mount.remount(false)) << mount.why();
  ASSERT_TRUE(run_in_slices_until(io_, [&] {
    return (a->role() == Role::primary && b->role() == Role::secondary) ||
           (a->role() == Role::secondary && b->role() == Role::primary);
  }));
  EXPECT_EQ(ra.warnings.size(), 1u);
  EXPECT_EQ(rb.warnings.size(), 1u);
  State s = file_state();
  ASSERT_TRUE(s.primary);
  EXPECT_EQ(s.instances.size(), 2u);
  a->stop();
  b->stop();
}

TEST_F(CoordinatorFaultTest, SymlinkStatePathIsRefusedOnceAndItsTargetLeftUntouched) {
  Config c = config();
  c.timings.interval = 0.2;
  fs::create_directories(dir());
  fs::path target = tmp_.path() / "precious.json";
  const std::string precious = R"({"not": "a state file"})";
  spit(target, precious);
  fs::create_symlink(target, c.state_file);
  Recorder ra;
  auto a = make("nvim_1_1", ra, c, 1);
  Coordinator* who = a.get();
  sync_when_due(ra, who);
  a->start();
  EXPECT_EQ(a->role(), Role::uncoordinated);
  ASSERT_TRUE(run_in_slices_until(io_, [&] { return ra.sync_due >= 2; }));
  ASSERT_EQ(ra.warnings.size(), 1u);
  EXPECT_NE(ra.warnings[0].find(c.state_file.string() + " is a symbolic link"), std::string::npos)
      << ra.warnings[0];
  EXPECT_EQ(slurp(target), precious);
  EXPECT_TRUE(fs::is_symlink(c.state_file));
  EXPECT_EQ(count_aside(dir()), 0);
  a->stop();
}

TEST_F(CoordinatorFaultTest, WorldWritableDirectoryDegradesWithAClearMessageAndRecovers) {
  fs::create_directories(dir());
  ASSERT_EQ(::chmod(dir().c_str(), 0777), 0);
  Recorder ra;
  auto a = make("nvim_1_1", ra, config(), 1);
  a->start();
  EXPECT_EQ(a->role(), Role::uncoordinated);
  run_for(io_, 0.3);
  ASSERT_EQ(ra.warnings.size(), 1u);
  EXPECT_NE(ra.warnings[0].find("writable by every user"), std::string::npos) << ra.warnings[0];
  EXPECT_NE(ra.warnings[0].find("chmod go-w"), std::string::npos) << ra.warnings[0];
  EXPECT_FALSE(fs::exists(config().state_file));
  ASSERT_EQ(::chmod(dir().c_str(), 0700), 0);
  ASSERT_TRUE(run_in_slices_until(io_, [&] { return a->role() == Role::primary; }));
  EXPECT_EQ(ra.warnings.size(), 1u);
  a->stop();
}

// The state file is deleted while another process holds the lock. The fleet
// rebuilds it from what it last saw: same primary, same sync record, so the
// cooldown still holds and nobody syncs again.
TEST_F(CoordinatorFaultTest, StateFileDeletedIsRebuiltKeepingPrimaryAndSyncRecord) {
  Config c = config();
  c.timings.takeover_threshold =
      2.0;  // no takeover may come from a stall of a loaded machine either
  Recorder ra, rb;
  auto a = make("nvim_1_1", ra, c, 1);
  auto b = make("nvim_2_2", rb, c, 2);
  Coordinator* who = a.get();
  sync_when_due(ra, who);
  a->start();
  b->start();
  ASSERT_TRUE(run_in_slices_until(io_, [&] { return ra.sync_due == 1; }));
  run_for(io_, 0.2);  // b sees the sync record
  const State before = file_state();
  ASSERT_GT(before.last_sync_time, 0);

  for (int round = 0; round < 3; ++round) {
    int fd = ::open(StateFile(config().state_file).lock_path().c_str(), O_RDWR | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::flock(fd, LOCK_EX), 0);
    ASSERT_EQ(::unlink(config().state_file.c_str()), 0);
    std::thread holder([fd] {
      std::this_thread::sleep_for(std::chrono::milliseconds(150));
      ::close(fd);
    });
    run_for(io_, 0.05);  // the instances queue on the lock meanwhile (bounded wait: 1.5 s)
    holder.join();
    ASSERT_TRUE(run_in_slices_until(io_, [&] { return fs::exists(config().state_file); }));
    run_for(io_, 0.2);
    State s = file_state();
    ASSERT_TRUE(s.primary);
    EXPECT_EQ(s.primary->instance_id, "nvim_1_1") << round;
    EXPECT_DOUBLE_EQ(s.last_sync_time, before.last_sync_time) << round;
    EXPECT_EQ(s.last_sync_instance, "nvim_1_1");
    EXPECT_EQ(s.instances.size(), 2u);
    EXPECT_DOUBLE_EQ(s.created, before.created);
  }
  EXPECT_EQ(a->role(), Role::primary);
  EXPECT_EQ(b->role(), Role::secondary);
  EXPECT_FALSE(rb.became(Role::primary));
  EXPECT_EQ(ra.sync_due, 1) << "the rebuilt file forgot the last sync; the cooldown was skipped";
  EXPECT_TRUE(ra.warnings.empty());
  EXPECT_TRUE(rb.warnings.empty());
  a->stop();
  b->stop();
}

TEST_F(CoordinatorFaultTest, LockFileDeletedWhileRunningIsRecreatedAndStillRingsTheDoorbell) {
  Recorder ra, rb;
  auto a = make("nvim_1_1", ra, config(), 1);
  auto b = make("nvim_2_2", rb, config(), 2);
  a->start();
  b->start();
  const fs::path lock = StateFile(config().state_file).lock_path();
  for (int round = 0; round < 3; ++round) {
    ASSERT_EQ(::unlink(lock.c_str()), 0);
    ASSERT_TRUE(run_in_slices_until(io_, [&] { return fs::exists(lock); }));
    run_for(io_, 0.1);
    EXPECT_EQ(a->role(), Role::primary);
    EXPECT_EQ(b->role(), Role::secondary);
  }
  // Handover still goes by the doorbell on the new lock file, not by the threshold.
  const double t0 = mono_now();
  a->stop();
  ASSERT_TRUE(run_in_slices_until(io_, [&] { return b->role() == Role::primary; }));
  EXPECT_LT(mono_now() - t0, 0.5);
  EXPECT_TRUE(ra.warnings.empty());
  EXPECT_TRUE(rb.warnings.empty());
  b->stop();
}

TEST_F(CoordinatorFaultTest, EmptyFileIsAFreshStartWithoutWarning) {
  fs::create_directories(dir());
  spit(config().state_file, "");
  ::chmod(config().state_file.c_str(), 0600);
  Recorder ra;
  auto a = make("nvim_1_1", ra, config(), 1);
  a->start();
  EXPECT_EQ(a->role(), Role::primary);
  EXPECT_TRUE(ra.warnings.empty());
  EXPECT_EQ(count_aside(dir()), 0);
  EXPECT_EQ(file_state().primary->instance_id, "nvim_1_1");
  a->stop();
}

// A file truncated while the fleet runs (a crash of an in-place writer, a disk
// fault): moved aside once, with one warning, and rebuilt from what the
// instance last saw.
TEST_F(CoordinatorFaultTest, TruncatedFileWhileRunningIsMovedAsideOnceAndRebuiltFromMemory) {
  Config c = config();
  c.timings.takeover_threshold = 2.0;
  Recorder ra, rb;
  auto a = make("nvim_1_1", ra, c, 1);
  auto b = make("nvim_2_2", rb, c, 2);
  Coordinator* who = a.get();
  sync_when_due(ra, who);
  a->start();
  b->start();
  ASSERT_TRUE(run_in_slices_until(io_, [&] { return ra.sync_due == 1; }));
  run_for(io_, 0.2);
  const State before = file_state();
  const std::string whole = slurp(config().state_file);
  spit(config().state_file, whole.substr(0, whole.size() / 3));
  ASSERT_TRUE(
      run_in_slices_until(io_, [&] { return ra.warnings.size() + rb.warnings.size() >= 1; }));
  run_for(io_, 0.3);
  EXPECT_EQ(ra.warnings.size() + rb.warnings.size(), 1u) << "said more than once";
  EXPECT_TRUE(any_contains(ra.warnings, "corrupt") || any_contains(rb.warnings, "corrupt"));
  EXPECT_EQ(count_aside(dir()), 1);
  State s = file_state();
  ASSERT_TRUE(s.primary);
  EXPECT_EQ(s.primary->instance_id, "nvim_1_1");
  EXPECT_DOUBLE_EQ(s.last_sync_time, before.last_sync_time);
  EXPECT_EQ(s.instances.size(), 2u);
  EXPECT_EQ(ra.sync_due, 1);
  EXPECT_FALSE(rb.became(Role::primary));
  a->stop();
  b->stop();
}

// SPEC §5 Time, on the runtime: the wall clock of the machine jumps an hour
// forward just after a sync, then two hours back. No takeover; the cooldown
// is not skipped by the forward jump; the schedule does not stall after the
// backward one. (The pure functions are covered with a FakeClock in
// election_test and schedule_test.)
TEST_F(CoordinatorFaultTest, WallClockJumpsOfAnHourNeitherTakeOverNorSkipCooldownNorStall) {
  Config c = config();
  c.timings.interval = 1.0;
  c.timings.sync_cooldown = 0.6;
  c.timings.takeover_threshold = 2.0;
  auto clock = std::make_shared<JumpingClock>();
  Recorder ra, rb;
  auto a = make("nvim_1_1", ra, c, 1, clock);
  auto b = make("nvim_2_2", rb, c, 2, clock);
  Coordinator* who = a.get();
  sync_when_due(ra, who);
  a->start();
  b->start();
  ASSERT_TRUE(run_in_slices_until(io_, [&] { return ra.sync_due == 1; }));
  run_for(io_, 0.1);
  clock->jump_wall(3600);  // within the cooldown of the sync just made
  ASSERT_TRUE(run_in_slices_until(
      io_, [&] { return ra.sync_due == 2; }, 10));
  run_for(io_, 0.1);
  clock->jump_wall(-7200);  // the last sync now lies an hour in the future
  ASSERT_TRUE(run_in_slices_until(
      io_, [&] { return ra.sync_due == 4; }, 10))
      << "the schedule stalled";
  for (std::size_t i = 1; i < ra.due_at.size(); ++i) {
    const double gap = ra.due_at[i] - ra.due_at[i - 1];
    EXPECT_GE(gap, c.timings.interval - 0.02)
        << "sync " << i << " came early: cooldown/schedule skipped";
    EXPECT_LT(gap, c.timings.interval + 1.0) << "sync " << i << " came late";
  }
  EXPECT_EQ(a->role(), Role::primary);
  EXPECT_EQ(b->role(), Role::secondary);
  EXPECT_FALSE(rb.became(Role::primary));
  EXPECT_EQ(rb.sync_due, 0);
  // The future stamp was put right, for every reader of the file.
  EXPECT_LE(file_state().last_sync_time, clock->wall());
  a->stop();
  b->stop();
}

// The same jumps on the primary's clock alone, while the secondary's stays
// right: two machines sharing the home, one of them set an hour wrong (or a
// process under faketime). The secondary sees the primary's sync stamps in
// its future. It must not rewrite them in its own frame: the primary would
// then read its own sync as an hour old and sync again at every heartbeat.
TEST_F(CoordinatorFaultTest, WallClockJumpOnThePrimaryAloneNeitherSkipsCooldownNorStalls) {
  Config c = config();
  c.timings.interval = 1.0;
  c.timings.sync_cooldown = 0.6;
  c.timings.takeover_threshold = 2.0;
  auto clock_a = std::make_shared<JumpingClock>();
  auto clock_b = std::make_shared<JumpingClock>();
  Recorder ra, rb;
  auto a = make("nvim_1_1", ra, c, 1, clock_a);
  auto b = make("nvim_2_2", rb, c, 2, clock_b);
  Coordinator* who = a.get();
  sync_when_due(ra, who);
  a->start();
  b->start();
  ASSERT_TRUE(run_in_slices_until(io_, [&] { return ra.sync_due == 1; }));
  run_for(io_, 0.1);
  clock_a->jump_wall(3600);
  run_for(io_, 2.5);
  const int after_forward = ra.sync_due;
  EXPECT_GE(after_forward, 2) << "stalled after the forward jump";
  EXPECT_LE(after_forward, 4) << "synced again and again after the forward jump";
  clock_a->jump_wall(-7200);
  ASSERT_TRUE(run_in_slices_until(
      io_, [&] { return ra.sync_due >= after_forward + 2; }, 10))
      << "the schedule stalled after the backward jump";
  for (std::size_t i = 1; i < ra.due_at.size(); ++i) {
    const double gap = ra.due_at[i] - ra.due_at[i - 1];
    EXPECT_GE(gap, c.timings.interval - 0.02)
        << "sync " << i << " came early: cooldown/schedule skipped";
  }
  EXPECT_EQ(a->role(), Role::primary);
  EXPECT_FALSE(rb.became(Role::primary));
  a->stop();
  b->stop();
}

// Several machines share one home, and one's clock is an hour behind: its
// sync's stamp reads as an hour old to the others. A takeover right after it
// must keep the schedule (SyncClock: a stamp that changed between two looks
// is no older than the first look), not sync at once.
TEST_F(CoordinatorFaultTest, ATakeoverAfterASyncStampedByAClockAnHourBehindKeepsTheSchedule) {
  Config c = config();
  c.timings.interval = 1.0;
  c.timings.sync_cooldown = 0.6;
  auto clock_a = std::make_shared<JumpingClock>();
  clock_a->jump_wall(-3600);
  Recorder ra, rb;
  auto a = make("nvim_1_1", ra, c, 1, clock_a);
  auto b = make("nvim_2_2", rb, c, 2);
  Coordinator* who_a = a.get();
  Coordinator* who_b = b.get();
  sync_when_due(ra, who_a);
  sync_when_due(rb, who_b);
  a->start();
  b->start();
  ASSERT_EQ(a->role(), Role::primary);
  ASSERT_TRUE(run_in_slices_until(io_, [&] { return ra.sync_due == 1; }));
  run_for(io_, 0.2);  // b reads the file a few times
  a->stop();
  ASSERT_TRUE(run_in_slices_until(
      io_, [&] { return b->role() == Role::primary; }, 5));
  ASSERT_TRUE(run_in_slices_until(
      io_, [&] { return rb.sync_due >= 1; }, 10))
      << "b never synced";
  // b knows only that a's stamp was new since its previous look at the file,
  // so it may count from up to one heartbeat before the real start.
  const double gap = rb.due_at[0] - ra.due_at[0];
  EXPECT_GE(gap, c.timings.interval - c.timings.heartbeat_interval - 0.02)
      << "b synced " << gap << " s after a's";
  EXPECT_LE(gap, c.timings.interval + 0.5) << "b's first sync was late";
  b->stop();
}

// A record whose host pid is alive but is another process (the pid was
// reused): proved gone by its start time, replaced at once without waiting
// for the threshold, and pruned.
struct ReusedPid {
  const char* name;
  int pid;
};

class ReusedPidTest : public CoordinatorFaultTest,
                      public ::testing::WithParamInterface<ReusedPid> {};

void write_foreign_primary(const fs::path& file, const InstanceRecord& r) {
  StateFile sf(file);
  ASSERT_TRUE(sf.update([&](State& s) {
                  s.instances[r.instance_id] = r;
                  s.primary = Lease{r.instance_id, r.last_heartbeat, r.nvim_pid, "0.9"};
                  return true;
                }).ok());
}

InstanceRecord local_record(int pid, std::uint64_t ticks) {
  HostFacts here = read_host_facts();
  InstanceRecord r;
  r.instance_id = "nvim_0_0";
  r.hostname = here.hostname;
  r.boot_id = here.boot_id;
  r.host_pid = pid;
  r.host_start_ticks = ticks;
  r.nvim_pid = pid;
  r.started_at = 0;  // the longest-running: it would keep the role if judged live
  r.last_heartbeat = SystemClock{}.wall();
  return r;
}

TEST_P(ReusedPidTest, IsJudgedGoneAtOnce) {
  const int pid = GetParam().pid;
  auto ticks = ProcProbe{}.start_ticks(pid);
  ASSERT_TRUE(ticks) << "pid " << pid << " is not running";
  write_foreign_primary(config().state_file, local_record(pid, *ticks + 12345));
  Recorder ra;
  auto a = make("nvim_1_1", ra, config(), 1);
  a->start();  // the first election runs synchronously
  EXPECT_EQ(a->role(), Role::primary);
  EXPECT_TRUE(any_contains(ra.debugs, "primary process gone"))
      << ::testing::PrintToString(ra.debugs);
  EXPECT_EQ(file_state().instances.count("nvim_0_0"), 0u);  // pruned
  a->stop();
}

TEST_P(ReusedPidTest, WithTheRightStartTimeItIsLiveUntilItsHeartbeatStops) {
  const int pid = GetParam().pid;
  auto ticks = ProcProbe{}.start_ticks(pid);
  ASSERT_TRUE(ticks);
  write_foreign_primary(config().state_file, local_record(pid, *ticks));
  Recorder ra;
  auto a = make("nvim_1_1", ra, config(), 1);
  const double t0 = mono_now();
  a->start();
  EXPECT_EQ(a->role(), Role::secondary);
  ASSERT_TRUE(run_in_slices_until(io_, [&] { return a->role() == Role::primary; }));
  EXPECT_GE(mono_now() - t0, config().timings.takeover_threshold);
  EXPECT_TRUE(any_contains(ra.debugs, "primary heartbeat stale"));
  a->stop();
}

INSTANTIATE_TEST_SUITE_P(
    Pids, ReusedPidTest,
    ::testing::Values(ReusedPid{"init", 1},
                      ReusedPid{"the_test_itself", static_cast<int>(::getpid())}),
    [](const ::testing::TestParamInfo<ReusedPid>& p) { return std::string(p.param.name); });

int impossible_pid() {
  std::ifstream in("/proc/sys/kernel/pid_max");
  int max = 4194304;
  in >> max;
  return max;  // pids are < pid_max
}

// A record from this hostname but another boot id, whose pid is dead here:
// process facts do not apply to it (the pid belonged to the other boot), so
// it is judged by its heartbeat only. While it beats, no takeover; once it
// stops, takeover after the threshold.
TEST_F(CoordinatorFaultTest, RecordFromAnotherBootIsJudgedByHeartbeatOnly) {
  InstanceRecord r = local_record(impossible_pid(), 777);
  r.boot_id = "00000000-0000-0000-0000-000000000000";
  write_foreign_primary(config().state_file, r);
  // Control: with this boot's id the same record is proved dead at once.
  {
    TempDir other;
    InstanceRecord same_boot = r;
    same_boot.boot_id = read_host_facts().boot_id;
    Config c = config();
    c.state_file = other.path() / "s.json";
    write_foreign_primary(c.state_file, same_boot);
    Recorder rc;
    auto control = make("nvim_9_9", rc, c, 9);
    control->start();
    ASSERT_EQ(control->role(), Role::primary)
        << "the pid is not dead here; the test proves nothing";
    control->stop();
  }

  bool beating = true;
  boost::asio::steady_timer beat(io_);
  std::function<void()> arm = [&] {
    beat.expires_after(std::chrono::milliseconds(50));
    beat.async_wait([&](const boost::system::error_code& ec) {
      if (ec || !beating) {
        return;
      }
      StateFile(config().state_file).update([&](State& s) {
        const double now = SystemClock{}.wall();
        if (s.primary && s.primary->instance_id == r.instance_id) {
          s.primary->last_heartbeat = now;
        }
        auto it = s.instances.find(r.instance_id);
        if (it != s.instances.end()) {
          it->second.last_heartbeat = now;
        }
        return true;
      });
      arm();
    });
  };
  arm();
  Recorder ra;
  auto a = make("nvim_1_1", ra, config(), 1);
  a->start();
  EXPECT_EQ(a->role(), Role::secondary);
  run_for(io_, 4 * config().timings.takeover_threshold);
  EXPECT_EQ(a->role(), Role::secondary) << "taken over from a primary that kept beating";
  EXPECT_EQ(file_state().primary->instance_id, r.instance_id);

  beating = false;
  const double stopped = mono_now();
  ASSERT_TRUE(run_in_slices_until(io_, [&] { return a->role() == Role::primary; }));
  EXPECT_GE(mono_now() - stopped, config().timings.takeover_threshold - 0.06);
  EXPECT_TRUE(any_contains(ra.debugs, "primary heartbeat stale"));
  a->stop();
}

}  // namespace
}  // namespace himalaya::coordinator
