// The runtime against faults of the process table (issue #6, item 4): a
// record whose pid was reused by another process, and a record from another
// boot of this host. The processes are real (pid 1, the test itself, a pid
// that cannot exist); the time is virtual (fault_fixture.h).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <functional>
#include <memory>
#include <string>

#include "coordinator/coordinator.h"
#include "coordinator/identity.h"
#include "coordinator/state_file.h"
#include "fault_fixture.h"
#include "recorder.h"
#include "test_support.h"

namespace himalaya::coordinator {
namespace {

namespace fs = std::filesystem;
using testing::any_contains;
using testing::CoordinatorFaultTest;
using testing::Recorder;
using testing::TempDir;

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

InstanceRecord local_record(int pid, std::uint64_t ticks, double wall) {
  HostFacts here = read_host_facts();
  InstanceRecord r;
  r.instance_id = "nvim_0_0";
  r.hostname = here.hostname;
  r.boot_id = here.boot_id;
  r.host_pid = pid;
  r.host_start_ticks = ticks;
  r.nvim_pid = pid;
  r.started_at = 0;  // the longest-running: it would keep the role if judged live
  r.last_heartbeat = wall;
  return r;
}

TEST_P(ReusedPidTest, IsJudgedGoneAtOnce) {
  const int pid = GetParam().pid;
  auto ticks = ProcProbe{}.start_ticks(pid);
  ASSERT_TRUE(ticks) << "pid " << pid << " is not running";
  write_foreign_primary(config().state_file, local_record(pid, *ticks + 12345, world_.wall()));
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
  write_foreign_primary(config().state_file, local_record(pid, *ticks, world_.wall()));
  Recorder ra;
  auto a = make("nvim_1_1", ra, config(), 1);
  const double t0 = now();
  a->start();
  EXPECT_EQ(a->role(), Role::secondary);
  ASSERT_TRUE(run_until([&] { return a->role() == Role::primary; }));
  EXPECT_GE(now() - t0, config().timings.takeover_threshold);
  EXPECT_LT(now() - t0,
            config().timings.takeover_threshold + 2 * config().timings.heartbeat_interval)
      << "replaced later than one heartbeat after the threshold";
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
  InstanceRecord r = local_record(impossible_pid(), 777, world_.wall());
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

  // The foreign primary beats every 50 ms, as an event of the world.
  bool beating = true;
  const auto world_clock =
      std::shared_ptr<const Clock>(std::shared_ptr<const Clock>{}, &world_.clock());
  std::function<void()> beat = [&] {
    if (!beating) {
      return;
    }
    StateFile(config().state_file, StateFile::Options{}, world_clock).update([&](State& s) {
      const double wall = world_.wall();
      if (s.primary && s.primary->instance_id == r.instance_id) {
        s.primary->last_heartbeat = wall;
      }
      auto it = s.instances.find(r.instance_id);
      if (it != s.instances.end()) {
        it->second.last_heartbeat = wall;
      }
      return true;
    });
    world_.at(world_.mono() + 0.05, 0, beat);
  };
  world_.at(world_.mono() + 0.05, 0, beat);
  Recorder ra;
  auto a = make("nvim_1_1", ra, config(), 1);
  a->start();
  EXPECT_EQ(a->role(), Role::secondary);
  run_for(4 * config().timings.takeover_threshold);
  EXPECT_EQ(a->role(), Role::secondary) << "taken over from a primary that kept beating";
  EXPECT_EQ(file_state().primary->instance_id, r.instance_id);

  beating = false;
  const double stopped = now();
  ASSERT_TRUE(run_until([&] { return a->role() == Role::primary; }));
  EXPECT_GE(now() - stopped, config().timings.takeover_threshold - 0.06);
  EXPECT_LT(now() - stopped,
            config().timings.takeover_threshold + 2 * config().timings.heartbeat_interval);
  EXPECT_TRUE(any_contains(ra.debugs, "primary heartbeat stale"));
  a->stop();
}

}  // namespace
}  // namespace himalaya::coordinator
