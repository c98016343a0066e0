// The runtime on a state file it cannot use or must rebuild, in one process
// (testing::RuntimeTest, runtime_fixture.h: real files, virtual time):
// Uncoordinated once with one warning and back, a corrupt file moved aside,
// a deleted or older file rebuilt keeping the schedule. The fault binary
// (coordinator_file_faults_test.cpp) has the harsher faults: full and
// read-only file systems, bad modes, lock files deleted.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "coordinator/coordinator.h"
#include "coordinator/state_file.h"
#include "recorder.h"
#include "runtime_fixture.h"
#include "test_support.h"

namespace himalaya::coordinator {
namespace {

namespace fs = std::filesystem;
using testing::any_contains;
using testing::Recorder;
using testing::spit;

// One fixture type across this suite's files (gtest requires it).
using CoordinatorTest = testing::RuntimeTest;

TEST_F(CoordinatorTest, UnusableFileDegradesOnceAndRecovers) {
  Config c = config();
  c.timings.interval = 0.2;
  fs::create_directories(c.state_file.parent_path());
  spit(tmp_.path() / "elsewhere", "{}");
  fs::create_symlink(tmp_.path() / "elsewhere", c.state_file);
  Recorder ra;
  auto a = make("nvim_1_1", ra, c, 1);
  ra.on_due = [&] {
    auto g = a->begin_sync(SyncTrigger::automatic);
    EXPECT_TRUE(g.granted) << g.reason;
    a->end_sync(SyncOutcome::ok, "");
  };
  a->start();
  EXPECT_EQ(a->role(), Role::uncoordinated);
  ASSERT_TRUE(run_until([&] { return ra.sync_due >= 3; }, 5));  // syncs on its own timer
  ASSERT_EQ(ra.warnings.size(), 1u);  // said once, though retried every heartbeat
  EXPECT_NE(ra.warnings[0].find("symbolic link"), std::string::npos);
  EXPECT_FALSE(a->status().problem.empty());
  fs::remove(c.state_file);
  ASSERT_TRUE(run_until([&] { return a->role() == Role::primary; }, 5));
  EXPECT_EQ(ra.warnings.size(), 1u);
  EXPECT_TRUE(a->status().problem.empty());
  EXPECT_EQ(file_state().primary->instance_id, "nvim_1_1");
}

TEST_F(CoordinatorTest, ForeignOwnerDegradesAndRecovers) {
  if (::geteuid() != 0) {
    GTEST_SKIP() << "needs root to chown";
  }
  Config c = config();
  Recorder ra;
  auto a = make("nvim_1_1", ra, c, 1);
  a->start();
  ASSERT_EQ(a->role(), Role::primary);
  ASSERT_EQ(::chown(c.state_file.c_str(), 65534, 65534), 0);
  ASSERT_TRUE(run_until([&] { return a->role() == Role::uncoordinated; }, 5));
  run_for(0.3);
  ASSERT_EQ(ra.warnings.size(), 1u);
  EXPECT_NE(ra.warnings[0].find("owned by uid 65534"), std::string::npos);
  ASSERT_EQ(::chown(c.state_file.c_str(), 0, 0), 0);
  ASSERT_TRUE(run_until([&] { return a->role() == Role::primary; }, 5));
}

// SPEC §5: no automatic sync within sync_cooldown of the last one's start.
// A secondary that goes Uncoordinated before it ever synced counts its own
// timer from the fleet's last sync as it last read it, not from its start-up.
TEST_F(CoordinatorTest, SecondaryGoingUncoordinatedKeepsTheFleetsCooldown) {
  Config c = config();
  c.timings.interval = 1.0;
  c.timings.sync_cooldown = 1.0;
  Recorder ra;
  Recorder rb;
  auto a = make("nvim_1_1", ra, c, 1);
  auto b = make("nvim_2_2", rb, c, 2);
  ra.on_due = [&] {
    if (a->begin_sync(SyncTrigger::automatic).granted) {
      a->end_sync(SyncOutcome::ok, "");
    }
  };
  double b_first_sync_wall = 0;
  rb.on_due = [&] {
    if (b_first_sync_wall == 0) {
      b_first_sync_wall = world_.clock().wall();
    }
    if (b->begin_sync(SyncTrigger::automatic).granted) {
      b->end_sync(SyncOutcome::ok, "");
    }
  };
  a->start();
  b->start();
  ASSERT_EQ(a->role(), Role::primary);
  ASSERT_EQ(b->role(), Role::secondary);
  ASSERT_TRUE(run_until([&] { return ra.sync_due == 1; }, 5));
  run_for(0.2);  // b reads the file with the sync on its next heartbeat
  const double last = file_state().last_sync_time;
  ASSERT_GT(last, 0);
  // The file becomes unusable for both: a symlink is refused.
  fs::rename(c.state_file, tmp_.path() / "elsewhere.json");
  fs::create_symlink(tmp_.path() / "elsewhere.json", c.state_file);
  ASSERT_TRUE(run_until([&] { return b->role() == Role::uncoordinated; }, 5));
  ASSERT_TRUE(run_until([&] { return rb.sync_due >= 1; }, 5));
  EXPECT_GE(b_first_sync_wall - last, c.timings.sync_cooldown - 0.05)
      << "b synced " << b_first_sync_wall - last << " s after the fleet's last sync";
  a->stop();
  b->stop();
}

TEST_F(CoordinatorTest, CorruptFileAtStartIsMovedAsideWithOneWarning) {
  Config c = config();
  fs::create_directories(c.state_file.parent_path());
  spit(c.state_file, "{\"primary\": {\"instance_id\": ");
  Recorder ra;
  auto a = make("nvim_1_1", ra, c, 1);
  a->start();
  EXPECT_EQ(a->role(), Role::primary);
  ASSERT_EQ(ra.warnings.size(), 1u);
  EXPECT_NE(ra.warnings[0].find("corrupt"), std::string::npos);
  int aside = 0;
  for (const auto& e : fs::directory_iterator(c.state_file.parent_path())) {
    aside += e.path().filename().string().rfind("sync_coordinator.json.corrupt-", 0) == 0;
  }
  EXPECT_EQ(aside, 1);
}

// A deleted state file is rebuilt by the next heartbeat, and keeps the
// fleet's schedule: the last sync time as the instance last saw it, so the
// rebuild starts no sync of its own.
TEST_F(CoordinatorTest, ADeletedStateFileIsRebuiltWithTheLastSyncTime) {
  Recorder ra;
  auto a = make("nvim_1_1", ra, config(), 1);
  a->start();
  ASSERT_TRUE(a->begin_sync(SyncTrigger::manual).granted);
  a->end_sync(SyncOutcome::ok, "");
  const State before = file_state();
  ASSERT_GT(before.last_sync_time, 0);
  fs::remove(config().state_file);
  ASSERT_TRUE(run_until([&] { return fs::exists(config().state_file); }, 5));
  State after = file_state();
  EXPECT_EQ(after.last_sync_time, before.last_sync_time);
  EXPECT_EQ(after.last_sync_instance, "nvim_1_1");
  ASSERT_TRUE(after.primary);
  EXPECT_EQ(after.primary->instance_id, "nvim_1_1");
  run_for(0.2);
  EXPECT_EQ(ra.sync_due, 0) << "the rebuild caused a sync";
}

// A file rebuilt from another instance's older view (it was deleted or
// corrupt right after this instance started a sync) has an older last sync
// time: this instance puts its own sync start back, so no sync is due at once.
TEST_F(CoordinatorTest, ARebuiltFileGetsBackTheLastSyncStartOfThisInstance) {
  Recorder ra;
  auto a = make("nvim_1_1", ra, config(), 1);
  a->start();
  ASSERT_TRUE(a->begin_sync(SyncTrigger::manual).granted);
  const double started = file_state().last_sync_time;
  ASSERT_GT(started, 0);
  ASSERT_TRUE(StateFile(config().state_file)
                  .update([&](State& s) {
                    s.last_sync_time = started - 100;
                    s.last_sync_instance = "nvim_2_2";
                    return true;
                  })
                  .ok());
  ASSERT_TRUE(run_until([&] { return file_state().last_sync_time == started; }, 5));
  EXPECT_EQ(file_state().last_sync_instance, "nvim_1_1");
  a->end_sync(SyncOutcome::ok, "");
  run_for(0.2);
  EXPECT_EQ(ra.sync_due, 0);
}

}  // namespace
}  // namespace himalaya::coordinator
