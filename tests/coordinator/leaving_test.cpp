// SPEC §8 on the runtime: an instance on its way out waits for the state
// file's lock leave_lock_timeout in all, not lock_timeout.
//
// Why this is here, in the fault binary, and not in coordinator_tests: what
// it checks is StateFile's bounded wait for a real flock that another open
// file holds (a polling loop on the steady clock, which asks the
// coordinator's keep_waiting with the real seconds waited), and the channel
// closing in the middle of that wait. On one thread and virtual time the
// world's clock stands still inside the waiting update, so neither the wait
// nor a leave during it can happen there. The coordinator's own timers run on
// virtual time (runtime_fixture.h); only the lock waits are real, each a few
// tenths of a second.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <unistd.h>

#include <chrono>

#include "coordinator/coordinator.h"
#include "coordinator/state_file.h"
#include "recorder.h"
#include "runtime_fixture.h"

namespace himalaya::coordinator {
namespace {

using testing::any_contains;
using testing::mono_now;
using testing::Recorder;

// SPEC §8: the host is gone within a second of its channel closing, even
// while another process holds the state file's lock. Once leaving, lock waits
// (the handover included) last leave_lock_timeout in all, not lock_timeout.
class LeavingTest : public testing::RuntimeTest {
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
