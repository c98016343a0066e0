// The runtime in one process (testing::RuntimeTest, runtime_fixture.h): real
// files, virtual time. Roles: election, heartbeats, handover, release and
// resume, failover. Syncs are in coordinator_sync_test.cpp, an unusable or
// rebuilt file in coordinator_file_test.cpp; LeavingTest, whose point is a
// real lock wait, is in the fault binary (leaving_test.cpp).
#include "coordinator/coordinator.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "coordinator/state_file.h"
#include "recorder.h"
#include "runtime_fixture.h"
#include "test_support.h"

namespace himalaya::coordinator {
namespace {

using testing::Recorder;

// One fixture type across this suite's files (gtest requires it).
using CoordinatorTest = testing::RuntimeTest;

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

}  // namespace
}  // namespace himalaya::coordinator
