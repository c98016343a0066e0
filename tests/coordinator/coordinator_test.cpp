// The runtime in one process (testing::RuntimeTest, runtime_fixture.h): real
// files, virtual time. LeavingTest alone measures real time: the StateFile's
// bounded wait for a lock another process holds is what it is about.
#include "coordinator/coordinator.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <csignal>
#include <functional>

#include "coordinator/state_file.h"
#include "recorder.h"
#include "runtime_fixture.h"
#include "test_support.h"

namespace himalaya::coordinator {
namespace {

namespace fs = std::filesystem;
using testing::any_contains;
using testing::mono_now;
using testing::Recorder;
using testing::spit;
using testing::TempDir;

class CoordinatorTest : public testing::RuntimeTest {};

TEST_F(CoordinatorTest, FirstInstanceIsPrimaryAndRegistered) {
  Recorder rec;
  auto a = make("nvim_1_1", rec, config(), 1);
  a->start();
  EXPECT_EQ(a->role(), Role::primary);
  State s = file_state();
  ASSERT_TRUE(s.primary);
  EXPECT_EQ(s.primary->instance_id, "nvim_1_1");
  EXPECT_EQ(s.instances.count("nvim_1_1"), 1u);
  EXPECT_TRUE(rec.warnings.empty());
  Status st = a->status();
  EXPECT_EQ(st.role, Role::primary);
  ASSERT_TRUE(st.primary);
  EXPECT_TRUE(st.primary->active);
  EXPECT_EQ(st.instances.size(), 1u);
}

TEST_F(CoordinatorTest, HeartbeatsRefreshLeaseAndRecord) {
  Recorder rec;
  auto a = make("nvim_1_1", rec, config(), 1);
  a->start();
  double hb = file_state().primary->last_heartbeat;
  ASSERT_TRUE(run_until([&] { return file_state().primary->last_heartbeat > hb; }));
  EXPECT_GT(file_state().instances.at("nvim_1_1").last_heartbeat, hb);
}

TEST_F(CoordinatorTest, SecondInstanceIsSecondaryAndTakesOverAtOnceOnStop) {
  Recorder ra, rb;
  auto a = make("nvim_1_1", ra, config(), 1);
  auto b = make("nvim_2_2", rb, config(), 2);
  a->start();
  b->start();
  EXPECT_EQ(a->role(), Role::primary);
  EXPECT_EQ(b->role(), Role::secondary);
  const double t0 = now();
  a->stop();
  ASSERT_TRUE(run_until([&] { return b->role() == Role::primary; }, 5));
  EXPECT_LT(now() - t0, 0.01);  // the doorbell, not the heartbeat or the takeover threshold
  EXPECT_EQ(file_state().primary->instance_id, "nvim_2_2");
  EXPECT_EQ(file_state().instances.count("nvim_1_1"), 0u);
}

TEST_F(CoordinatorTest, ReleaseHandsOverAndResumeDoesNotTakeBack) {
  Recorder ra, rb;
  auto a = make("nvim_1_1", ra, config(), 1);
  auto b = make("nvim_2_2", rb, config(), 2);
  a->start();
  b->start();
  a->release();
  EXPECT_EQ(a->role(), Role::secondary);
  ASSERT_TRUE(run_until([&] { return b->role() == Role::primary; }, 5));
  a->resume();
  run_for(0.3);
  EXPECT_EQ(a->role(), Role::secondary);
  EXPECT_EQ(b->role(), Role::primary);
  // The only instance releasing leaves the lease vacant; others take it.
  b->release();
  ASSERT_TRUE(run_until([&] { return a->role() == Role::primary; }, 5));
}

TEST_F(CoordinatorTest, ReleasedOnlyInstanceContendsAgainOnResume) {
  Recorder ra;
  auto a = make("nvim_1_1", ra, config(), 1);
  a->start();
  a->release();
  EXPECT_EQ(a->role(), Role::secondary);
  EXPECT_FALSE(file_state().primary);
  a->resume();
  EXPECT_EQ(a->role(), Role::primary);
}

TEST_F(CoordinatorTest, StartupSyncIsDueAfterTheDelayAndRecorded) {
  Recorder ra;
  auto a = make("nvim_1_1", ra, config(), 1);
  ra.on_due = [&] {
    auto g = a->begin_sync(SyncTrigger::automatic);
    EXPECT_TRUE(g.granted) << g.reason;
  };
  a->start();
  ASSERT_TRUE(run_until([&] { return ra.sync_due == 1; }, 5));
  State s = file_state();
  ASSERT_TRUE(s.running_sync);
  EXPECT_EQ(s.running_sync->instance_id, "nvim_1_1");
  EXPECT_EQ(s.last_sync_instance, "nvim_1_1");
  EXPECT_GT(s.last_sync_time, 0);
  a->end_sync(SyncOutcome::failed, "offline");
  s = file_state();
  EXPECT_FALSE(s.running_sync);
  ASSERT_TRUE(s.last_result);
  EXPECT_EQ(s.last_result->outcome, SyncOutcome::failed);
  EXPECT_EQ(s.last_result->message, "offline");
  // Cooldown: nothing more for a while.
  run_for(0.3);
  EXPECT_EQ(ra.sync_due, 1);
  EXPECT_GT(a->status().cooldown_remaining, 29);
}

TEST_F(CoordinatorTest, ManualSyncIgnoresRoleAndCooldownButNotARunningSync) {
  Recorder ra, rb;
  auto a = make("nvim_1_1", ra, config(), 1);
  auto b = make("nvim_2_2", rb, config(), 2);
  a->start();
  b->start();
  EXPECT_FALSE(b->begin_sync(SyncTrigger::automatic).granted);  // secondary
  auto g = b->begin_sync(SyncTrigger::manual);
  ASSERT_TRUE(g.granted) << g.reason;
  auto denied = a->begin_sync(SyncTrigger::manual);
  EXPECT_FALSE(denied.granted);
  EXPECT_NE(denied.reason.find("already running"), std::string::npos);
  EXPECT_FALSE(a->begin_sync(SyncTrigger::automatic).granted);
  b->end_sync(SyncOutcome::ok, "");
  run_for(0.1);  // past the start-up delay
  auto cooled = a->begin_sync(SyncTrigger::automatic);
  EXPECT_FALSE(cooled.granted);
  EXPECT_NE(cooled.reason.find("cooldown"), std::string::npos);
  EXPECT_TRUE(a->begin_sync(SyncTrigger::manual).granted);  // cooldown does not apply
  a->end_sync(SyncOutcome::ok, "");
}

// Every sync decision reaches Events::debug, which the host logs (and shows
// in debug mode): started, skipped as secondary, skipped for cooldown with the
// seconds left, and skipped because a sync runs elsewhere.
TEST_F(CoordinatorTest, EverySyncDecisionIsReported) {
  Config c = config();
  c.timings.interval = 0.6;
  c.timings.sync_cooldown = 0.4;
  Recorder ra, rb;
  auto a = make("nvim_1_1", ra, c, 1);
  auto b = make("nvim_2_2", rb, c, 2);
  int syncs = 0;
  ra.on_due = [&] {
    if (a->begin_sync(SyncTrigger::automatic).granted) {
      ++syncs;
      a->end_sync(SyncOutcome::ok, "");
    }
  };
  a->start();
  b->start();
  ASSERT_EQ(a->role(), Role::primary);
  ASSERT_EQ(b->role(), Role::secondary);
  ASSERT_TRUE(run_until([&] { return syncs == 2; }, 10));
  EXPECT_TRUE(any_contains(ra.debugs, "sync started: ")) << ::testing::PrintToString(ra.debugs);
  // The secondary notes its decision when the fleet's sync comes due.
  ASSERT_TRUE(run_until(
      [&] { return any_contains(rb.debugs, "skipped as secondary: nvim_1_1 is primary"); }, 5))
      << ::testing::PrintToString(rb.debugs);
  EXPECT_EQ(rb.sync_due, 0);

  // Right after a sync the cooldown refuses an automatic one, saying how long is left.
  auto manual = b->begin_sync(SyncTrigger::manual);
  ASSERT_TRUE(manual.granted) << manual.reason;
  auto elsewhere = a->begin_sync(SyncTrigger::automatic);
  EXPECT_FALSE(elsewhere.granted);
  EXPECT_TRUE(
      any_contains(ra.debugs, "sync not started: a sync is already running (started by nvim_2_2)"))
      << ::testing::PrintToString(ra.debugs);
  b->end_sync(SyncOutcome::ok, "");
  auto cooled = a->begin_sync(SyncTrigger::automatic);
  EXPECT_FALSE(cooled.granted);
  EXPECT_TRUE(any_contains(ra.debugs, "sync not started: skipped for cooldown ("))
      << ::testing::PrintToString(ra.debugs);
  EXPECT_TRUE(any_contains(ra.debugs, " left)")) << ::testing::PrintToString(ra.debugs);
}

TEST_F(CoordinatorTest, TakeoverKeepsTheScheduleAndAddsNoSync) {
  Config c = config();
  c.timings.interval = 1.0;
  c.timings.sync_cooldown = 0.5;
  Recorder ra, rb;
  auto a = make("nvim_1_1", ra, c, 1);
  auto b = make("nvim_2_2", rb, c, 2);
  ra.on_due = [&] {
    if (a->begin_sync(SyncTrigger::automatic).granted) {
      a->end_sync(SyncOutcome::ok, "");
    }
  };
  rb.on_due = [&] {
    if (b->begin_sync(SyncTrigger::automatic).granted) {
      b->end_sync(SyncOutcome::ok, "");
    }
  };
  a->start();
  b->start();
  ASSERT_TRUE(run_until([&] { return ra.sync_due == 1; }, 5));
  const double last = file_state().last_sync_time;
  run_for(0.2);
  a->stop();
  ASSERT_TRUE(run_until([&] { return b->role() == Role::primary; }, 5));
  EXPECT_EQ(rb.sync_due, 0);  // no sync on takeover
  ASSERT_TRUE(run_until([&] { return rb.sync_due == 1; }, 5));
  State s = file_state();
  EXPECT_EQ(s.last_sync_instance, "nvim_2_2");
  EXPECT_GE(s.last_sync_time - last, 0.95);  // at last + interval, not before
  EXPECT_LT(s.last_sync_time - last, 1.5);
}

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

TEST_F(CoordinatorTest, DisabledCoordinationSyncsOnItsOwnTimerWithoutWarning) {
  Config c = config();
  c.enabled = false;
  c.timings.interval = 0.1;
  Recorder ra;
  auto a = make("nvim_1_1", ra, c, 1);
  ra.on_due = [&] {
    ASSERT_TRUE(a->begin_sync(SyncTrigger::automatic).granted);
    a->end_sync(SyncOutcome::ok, "");
  };
  a->start();
  EXPECT_EQ(a->role(), Role::uncoordinated);
  ASSERT_TRUE(run_until([&] { return ra.sync_due >= 3; }, 5));
  EXPECT_TRUE(ra.warnings.empty());
  EXPECT_FALSE(fs::exists(c.state_file));
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

TEST_F(CoordinatorTest, StaleForeignPrimaryIsReplacedAfterTheThreshold) {
  // A primary from another host that stopped beating.
  Config c = config();
  {
    StateFile sf(c.state_file);
    ASSERT_TRUE(sf.update([](State& s) {
                    InstanceRecord r;
                    r.instance_id = "nvim_0_0";
                    r.hostname = "elsewhere";
                    r.boot_id = "x";
                    r.host_pid = 1;
                    s.instances[r.instance_id] = r;
                    s.primary = Lease{"nvim_0_0", 1, 1, ""};
                    return true;
                  }).ok());
  }
  Recorder ra;
  auto a = make("nvim_1_1", ra, c, 1);
  const double t0 = now();
  a->start();
  EXPECT_EQ(a->role(), Role::secondary);
  ASSERT_TRUE(run_until([&] { return a->role() == Role::primary; }, 5));
  EXPECT_GE(now() - t0, 0.5);
  EXPECT_LT(now() - t0, 0.5 + 2 * 0.05) << "replaced one heartbeat after the threshold";
  bool said_failover = false;
  for (const auto& d : ra.debugs) {
    said_failover = said_failover || d.find("failover") != std::string::npos;
  }
  EXPECT_TRUE(said_failover);
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

// The primary is frozen (freeze(): its timers and wake-ups wait, as under SIGSTOP)
// after it spawned its sync command and before it could record the end. Its
// sync keeps blocking while that process runs; once the process is gone, the
// instance that took over sees the sync as over, records that its outcome is
// unknown, and syncs on the schedule instead of waiting for sync_timeout.
TEST_F(CoordinatorTest, SyncOfAFrozenPrimaryIsOverOnceItsSyncProcessExited) {
  Config c = config();
  c.timings.interval = 1;
  c.timings.sync_cooldown = 0.5;
  c.timings.sync_timeout = 30;
  Recorder ra, rb;
  auto a = make("nvim_1_1", ra, c, 1);
  a->start();
  ASSERT_EQ(a->role(), Role::primary);
  ASSERT_TRUE(a->begin_sync(SyncTrigger::manual).granted);
  const pid_t sync_process = ::fork();
  ASSERT_GE(sync_process, 0);
  if (sync_process == 0) {
    ::pause();
    ::_exit(0);
  }
  a->sync_process_started(sync_process);
  State s = file_state();
  ASSERT_TRUE(s.running_sync);
  EXPECT_EQ(s.running_sync->sync_pid, sync_process);
  EXPECT_GT(s.running_sync->sync_start_ticks, 0U);
  EXPECT_EQ(s.running_sync->boot_id, read_host_facts().boot_id);

  // From here on `a` is frozen: only b runs.
  freeze("nvim_1_1");
  auto b = make("nvim_2_2", rb, c, 2);
  int granted = 0;
  rb.on_due = [&] { granted += b->begin_sync(SyncTrigger::automatic).granted ? 1 : 0; };
  b->start();
  ASSERT_TRUE(run_until([&] { return b->role() == Role::primary; }, 5));
  // Due (interval 1 s) but the sync process still runs: no sync.
  run_for(1.2);
  EXPECT_EQ(granted, 0);
  ASSERT_TRUE(file_state().running_sync);
  EXPECT_EQ(file_state().running_sync->instance_id, "nvim_1_1");

  ::kill(sync_process, SIGKILL);
  ::waitpid(sync_process, nullptr, 0);
  const double exited = now();
  ASSERT_TRUE(run_until([&] { return granted == 1; }, 5));
  // One heartbeat to see the process gone, exited_sync_settle_delay() (a
  // heartbeat here) for its instance to record the end, one to settle it.
  EXPECT_LE(now() - exited, 3 * c.timings.heartbeat_interval + 1e-6)
      << "the next sync waited for the frozen primary";
  s = file_state();
  ASSERT_TRUE(s.running_sync);
  EXPECT_EQ(s.running_sync->instance_id, "nvim_2_2");
  ASSERT_TRUE(s.last_result);
  EXPECT_EQ(s.last_result->instance_id, "nvim_1_1");
  EXPECT_EQ(s.last_result->outcome, SyncOutcome::cancelled);
  EXPECT_NE(s.last_result->message.find("outcome unknown"), std::string::npos)
      << s.last_result->message;

  // b's sync ends; then `a` thaws and records its own end, late: b's later
  // result stays, and `a` is no longer primary.
  b->end_sync(SyncOutcome::ok, "");
  thaw("nvim_1_1");
  a->end_sync(SyncOutcome::ok, "");
  s = file_state();
  EXPECT_FALSE(s.running_sync);
  ASSERT_TRUE(s.last_result);
  EXPECT_EQ(s.last_result->instance_id, "nvim_2_2");
  EXPECT_EQ(a->role(), Role::secondary);
  a.reset();
}

// SPEC §8: the host is gone within a second of its channel closing, even
// while another process holds the state file's lock. Once leaving, lock waits
// (the handover included) last leave_lock_timeout in all, not lock_timeout.
class LeavingTest : public CoordinatorTest {
 protected:
  Config leaving_config() {
    Config c = config();
    c.timings.lock_timeout = 30;  // a wait this long would fail every test below
    c.timings.leave_lock_timeout = 0.2;
    c.leaving = [this] { return std::chrono::steady_clock::now() >= leave_at_; };
    return c;
  }
  void leave_in(double seconds) {
    leave_at_ = std::chrono::steady_clock::now() +
                std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                    std::chrono::duration<double>(seconds));
  }
  // Holds the state file's lock like a frozen instance would.
  void hold_lock() {
    lock_fd_ = ::open(StateFile(config().state_file).lock_path().c_str(), O_RDWR | O_CLOEXEC);
    ASSERT_GE(lock_fd_, 0);
    ASSERT_EQ(::flock(lock_fd_, LOCK_EX), 0);
  }
  void TearDown() override {
    if (lock_fd_ >= 0) {
      ::close(lock_fd_);
    }
  }

  std::chrono::steady_clock::time_point leave_at_ = std::chrono::steady_clock::time_point::max();
  int lock_fd_ = -1;
};

TEST_F(LeavingTest, AHandoverBlockedByAHeldLockGivesUpWithinTheLeaveBudget) {
  Recorder rec;
  auto a = make("nvim_1_1", rec, leaving_config(), 1);
  a->start();
  ASSERT_EQ(a->role(), Role::primary);
  hold_lock();
  leave_in(0);
  const double t0 = mono_now();
  a->stop();
  const double took = mono_now() - t0;
  EXPECT_GE(took, 0.19);  // it did wait for the lock, for its budget
  EXPECT_LT(took, 5.0) << "stop() waited for lock_timeout";
  EXPECT_TRUE(rec.warnings.empty()) << rec.warnings.front();
  EXPECT_TRUE(any_contains(rec.debugs, "leaving without updating the state file"))
      << ::testing::PrintToString(rec.debugs);
  EXPECT_EQ(a->role(), Role::secondary);
  // The file still names it: the others judge it by its process or heartbeat.
  EXPECT_EQ(file_state().primary->instance_id, "nvim_1_1");
}

TEST_F(LeavingTest, ALockWaitUnderWayEndsWhenTheInstanceStartsLeaving) {
  Recorder rec;
  auto a = make("nvim_1_1", rec, leaving_config(), 1);
  a->start();
  ASSERT_EQ(a->role(), Role::primary);
  hold_lock();
  // The next heartbeat (every 50 ms) waits for the lock; 0.3 s in, the
  // channel closes.
  leave_in(0.3);
  const double t0 = mono_now();
  ASSERT_TRUE(run_until(
      [&] { return any_contains(rec.debugs, "leaving without updating the state file"); }, 20));
  EXPECT_LT(mono_now() - t0, 5.0) << "the heartbeat waited for lock_timeout";
  EXPECT_TRUE(rec.warnings.empty()) << rec.warnings.front();
  EXPECT_NE(a->role(), Role::uncoordinated);  // leaving is not a coordination failure
  a->stop();
}

TEST_F(LeavingTest, NoSyncIsGrantedToALeavingInstance) {
  Recorder rec;
  auto a = make("nvim_1_1", rec, leaving_config(), 1);
  a->start();
  leave_in(0);
  for (auto trigger : {SyncTrigger::manual, SyncTrigger::automatic}) {
    auto grant = a->begin_sync(trigger);
    EXPECT_FALSE(grant.granted);
    EXPECT_EQ(grant.reason, "this instance is leaving");
  }
  EXPECT_FALSE(file_state().running_sync);
  // Nor when the channel closes during begin_sync's lock wait.
  Recorder rb;
  leave_at_ = std::chrono::steady_clock::time_point::max();
  auto b = make("nvim_2_2", rb, leaving_config(), 2);
  b->start();
  hold_lock();
  leave_in(0.3);
  auto grant = b->begin_sync(SyncTrigger::manual);
  EXPECT_FALSE(grant.granted);
  EXPECT_TRUE(rb.warnings.empty()) << rb.warnings.front();
  b->stop();
  a->stop();
}

}  // namespace
}  // namespace himalaya::coordinator
