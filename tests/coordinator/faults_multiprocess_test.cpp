// Faults with real processes (issue #6): coord-driver instances sharing one
// state file while its files are deleted, while one of them lives on
// "another host" (a UTS and pid namespace), and while one's wall clock jumps
// (libfaketime). Every wait is a condition with a deadline; margins are
// several heartbeats, because CI is a loaded 2-core machine.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "coordinator/identity.h"
#include "coordinator/state_file.h"
#include "test_support.h"
#include "tests/support/clock.h"
#include "tests/support/driver_fleet.h"
#include "tests/support/processes.h"
#include "tests/support/wait.h"

namespace himalaya::coordinator {
namespace {

namespace fs = std::filesystem;
using himalaya::testing::Driver;
using himalaya::testing::DriverFleet;
using himalaya::testing::first_child;
using himalaya::testing::holds_write_flock;
using himalaya::testing::mono_now;
using testing::TempDir;

class FaultMultiProcessTest : public ::testing::Test {
 protected:
  fs::path state() const { return tmp_.path() / "h" / "sync_coordinator.json"; }
  TempDir tmp_;
};

// Prints what every driver said, if the test has failed by the time it goes.
struct ShowOnFailure {
  DriverFleet& fleet;
  ~ShowOnFailure() {
    if (!::testing::Test::HasFailure()) {
      return;
    }
    for (auto& d : fleet.drivers()) {
      std::string all;
      for (const auto& line : d->lines) {
        all += "  " + line + "\n";
      }
      std::fprintf(stderr, "driver %s (pid %d):\n%s", d->id.c_str(), d->pid(), all.c_str());
    }
  }
};

struct SyncStart {
  std::string id;
  double wall = 0;
  double mono = 0;      // when the driver printed it, after begin_sync() returned
  double recorded = 0;  // last_sync_time as written under the lock (a wall stamp)
};

std::vector<SyncStart> sync_starts(DriverFleet& fleet) {
  std::vector<SyncStart> out;
  for (auto& d : fleet.drivers()) {
    for (const auto& line : d->lines) {
      char id[128];
      SyncStart s;
      if (std::sscanf(line.c_str(), "sync-start %127s %lf %lf %lf", id, &s.wall, &s.mono,
                      &s.recorded) == 4) {
        s.id = id;
        out.push_back(s);
      }
    }
  }
  std::sort(out.begin(), out.end(),
            [](const SyncStart& a, const SyncStart& b) { return a.mono < b.mono; });
  return out;
}

void expect_no_warnings(DriverFleet& fleet) {
  for (auto& d : fleet.drivers()) {
    for (const auto& line : d->lines) {
      EXPECT_EQ(line.rfind("warning", 0), std::string::npos) << line;
    }
  }
}

int ever_primary(DriverFleet& fleet) {
  int n = 0;
  for (auto& d : fleet.drivers()) {
    n += d->times_primary > 0;
  }
  return n;
}

Driver* primary_other_than(DriverFleet& fleet, const Driver* old) {
  for (Driver* d : fleet.alive()) {
    if (d != old && d->role == "primary") {
      return d;
    }
  }
  return nullptr;
}

// A threshold of 40 heartbeats: these tests assert that a fault causes no
// takeover, so a stall of a loaded machine (a slow fsync) must not cause one
// either.
const std::vector<std::string> syncing = {
    "--heartbeat",     "0.05", "--threshold",     "2.0",  "--interval", "0.6", "--cooldown", "0.4",
    "--startup-delay", "0.05", "--sync-duration", "0.05", "--debug"};

// The state file and the lock file are deleted again and again while three
// instances run and sync. The file is rebuilt each time from what the
// instances last saw: the primary never changes, nobody else ever claims the
// role, and the fleet never syncs twice within the cooldown.
TEST_F(FaultMultiProcessTest, StateAndLockFilesDeletedWhileTheFleetRuns) {
  DriverFleet fleet(COORD_DRIVER_PATH, state());
  ShowOnFailure show{fleet};
  for (int i = 0; i < 3; ++i) {
    fleet.spawn(syncing);
  }
  ASSERT_TRUE(fleet.wait_until([&] { return fleet.agreed(); }, 30));
  pump_for(fleet, 0.8);
  const fs::path lock = StateFile(state()).lock_path();
  int deleted = 0;
  for (int k = 0; k < 20; ++k) {
    const fs::path& victim = k % 2 == 0 ? state() : lock;
    deleted += ::unlink(victim.c_str()) == 0;
    pump_for(fleet, 0.15);
  }
  EXPECT_GE(deleted, 15) << "the files were not there to delete: nobody rebuilt them";
  ASSERT_TRUE(fleet.wait_until([&] { return fs::exists(state()) && fleet.agreed(); }, 20));
  pump_for(fleet, 0.3);
  EXPECT_TRUE(fleet.agreed());
  EXPECT_EQ(ever_primary(fleet), 1) << "the role moved although the primary never stopped";
  expect_no_warnings(fleet);

  auto starts = sync_starts(fleet);
  ASSERT_GE(starts.size(), 4u) << "the fleet stopped syncing";
  // Judged on the recorded starts (every driver here has the system's wall
  // clock): the printed times lag by however long begin_sync()'s fsync took.
  for (std::size_t i = 1; i < starts.size(); ++i) {
    EXPECT_GE(starts[i].recorded - starts[i - 1].recorded, 0.4 - 0.02)
        << "two syncs within the cooldown";
  }
  // One sync per 0.6 s over ~4 s; the deletions never made anyone sync early.
  EXPECT_LE(starts.size(), 9u);
}

bool said(const Driver& d, const std::string& kind) {
  for (const auto& line : d.lines) {
    if (line.rfind(kind + " ", 0) == 0) {
      return true;
    }
  }
  return false;
}

// Issue 12: the primary is SIGSTOPped while it holds the state file's lock,
// in the middle of an update: its write prepared, the rename that publishes it
// not yet done. The others must not go Uncoordinated: they move past the
// frozen holder (lock_holder.h), keep writing, take over once its heartbeat is
// stale, and sync. When it resumes, its late write must not publish: the
// lease, the records and the sync written meanwhile stay, and the fleet
// agrees on the successor.
TEST_F(FaultMultiProcessTest, PrimaryStoppedHoldingTheLockNeitherStallsNorRollsBackTheFleet) {
  const double threshold = 1.0;  // 20 heartbeats
  const std::vector<std::string> args = {"--heartbeat",
                                         "0.05",
                                         "--threshold",
                                         "1.0",
                                         "--lock-timeout",
                                         "1.0",
                                         "--interval",
                                         "0.6",
                                         "--cooldown",
                                         "0.4",
                                         "--startup-delay",
                                         "0.05",
                                         "--debug",
                                         "--sync-duration",
                                         "0.05"};
  DriverFleet fleet(COORD_DRIVER_PATH, state());
  ShowOnFailure show{fleet};
  Driver& frozen = fleet.spawn(args);
  ASSERT_TRUE(fleet.wait_until([&] { return frozen.ready; }, 30));
  ASSERT_EQ(frozen.role, "primary");
  for (int i = 0; i < 2; ++i) {
    fleet.spawn(args);
  }
  ASSERT_TRUE(fleet.wait_until([&] { return fleet.agreed(); }, 30));
  ASSERT_EQ(fleet.primaries().at(0), &frozen);
  auto others = [&] {
    std::vector<Driver*> out;
    for (auto& d : fleet.drivers()) {
      if (d.get() != &frozen) {
        out.push_back(d.get());
      }
    }
    return out;
  };

  // Freeze it inside its next write (coord-driver: SIGWINCH), a heartbeat
  // just after a sync of its own has ended: a sync left running in the file
  // would hold the successor's syncs back until sync_timeout.
  ASSERT_TRUE(fleet.wait_until([&] { return said(frozen, "sync-end"); }, 10));
  ASSERT_EQ(::kill(frozen.pid(), SIGWINCH), 0);
  ASSERT_TRUE(fleet.wait_until(
      [&] {
        return said(frozen, "stop-in-lock") &&
               himalaya::testing::process_state(frozen.pid()) == 'T';
      },
      10));
  const double frozen_at = mono_now();
  ASSERT_TRUE(holds_write_flock(frozen.pid())) << "frozen, but not holding the lock";
  auto before = StateFile(state()).read();
  ASSERT_TRUE(before.ok());

  // The others keep writing their heartbeats within a few heartbeats
  // (without a way past the holder, not once until it resumes).
  const bool beating = fleet.wait_until(
      [&] {
        auto now = StateFile(state()).read();
        if (!now.ok()) {
          return false;
        }
        for (Driver* d : others()) {
          const auto& was = before.value().instances;
          const auto& is = now.value().instances;
          if (was.count(d->id) == 0 || is.count(d->id) == 0 ||
              is.at(d->id).last_heartbeat == was.at(d->id).last_heartbeat) {
            return false;
          }
        }
        return true;
      },
      1.0);
  EXPECT_TRUE(beating) << "the others did not write while the holder was frozen";
  // A successor once the frozen primary's heartbeat is stale, and a sync of
  // its own on the fleet's schedule.
  Driver* successor = nullptr;
  ASSERT_TRUE(fleet.wait_until(
      [&] {
        successor = primary_other_than(fleet, &frozen);
        return successor != nullptr;
      },
      threshold + 3))
      << "no takeover from the frozen primary; the others' roles: " << others()[0]->role << ", "
      << others()[1]->role;
  EXPECT_LT(successor->role_mono - frozen_at, threshold + 2);
  ASSERT_TRUE(fleet.wait_until(
      [&] {
        auto now = StateFile(state()).read();
        return now.ok() && now.value().last_sync_instance == successor->id &&
               !now.value().running_sync;
      },
      5))
      << "the successor did not sync";
  auto meanwhile = StateFile(state()).read();
  ASSERT_TRUE(meanwhile.ok());
  ASSERT_TRUE(meanwhile.value().primary);
  EXPECT_EQ(meanwhile.value().primary->instance_id, successor->id);
  for (Driver* d : others()) {
    EXPECT_NE(d->role, "uncoordinated") << d->id;
  }
  EXPECT_EQ(himalaya::testing::process_state(frozen.pid()), 'T') << "it resumed before the checks";

  // It resumes: its late write must not replace what was written meanwhile.
  ASSERT_EQ(::kill(frozen.pid(), SIGCONT), 0);
  const double resumed_at = mono_now();
  double last_sync = meanwhile.value().last_sync_time;
  int samples = 0;
  fleet.wait_until(
      [&] {
        auto now = StateFile(state()).read();
        if (now.ok()) {
          ++samples;
          const State& s = now.value();
          EXPECT_GE(s.last_sync_time, last_sync) << std::fixed << "the sync record went back, by "
                                                 << last_sync - s.last_sync_time << " s";
          last_sync = std::max(last_sync, s.last_sync_time);
          EXPECT_TRUE(s.primary && s.primary->instance_id != frozen.id)
              << "the frozen primary's lease came back";
          EXPECT_EQ(s.instances.count(successor->id), 1u) << "the successor's record vanished";
        }
        return mono_now() - resumed_at > 1.5 || ::testing::Test::HasFailure();
      },
      10);
  EXPECT_GT(samples, 10);
  ASSERT_TRUE(fleet.wait_until([&] { return frozen.role == "secondary"; }, 10))
      << "the frozen primary did not step down";
  ASSERT_TRUE(fleet.wait_until([&] { return fleet.agreed(); }, 10));
  EXPECT_EQ(fleet.primaries().at(0), successor);
  EXPECT_EQ(successor->times_primary, 1) << "the successor lost the role";
  EXPECT_EQ(ever_primary(fleet), 2);
  for (auto& d : fleet.drivers()) {
    for (const auto& line : d->lines) {
      EXPECT_EQ(line.find("uncoordinated"), std::string::npos) << line;
    }
  }
  expect_no_warnings(fleet);
}

// Runs a command through sh and says whether it succeeded.
bool runs(const std::string& command) {
  return std::system((command + " >/dev/null 2>&1").c_str()) == 0;
}

// An instance on "another host" sharing the home directory: a driver in its
// own UTS namespace (hostname other-host) and pid namespace, where it is pid
// 1. Locally pid 1 is init, another process, so if local instances applied
// process checks to its record they would judge it gone at once. They must
// judge it by its heartbeat only: no takeover while it beats; takeover once
// it is stopped past the threshold; and it steps down when it continues.
TEST_F(FaultMultiProcessTest, InstanceOnAnotherHostIsJudgedByHeartbeatNotByPid) {
  if (::geteuid() != 0) {
    GTEST_SKIP() << "needs root for unshare(1)";
  }
  if (!runs("unshare -u -p -f --mount-proc --kill-child sh -c 'hostname other-host'")) {
    GTEST_SKIP() << "unshare of the UTS and pid namespaces is not permitted here";
  }
  const double threshold = 1.0;  // 20 heartbeats: no takeover from a stall of a loaded machine
  const std::vector<std::string> fast = {"--heartbeat", "0.05",      "--threshold",
                                         "1.0",         "--no-auto", "--debug"};
  const std::vector<std::string> other_host = {
      "unshare", "-u",           "-p",
      "-f",      "--mount-proc", "--kill-child",
      "sh",      "-c",           "hostname other-host && exec \"$0\" \"$@\""};
  DriverFleet fleet(COORD_DRIVER_PATH, state());
  ShowOnFailure show{fleet};
  Driver& remote = fleet.spawn(fast, other_host);
  ASSERT_TRUE(fleet.wait_until([&] { return remote.ready; }, 30));
  ASSERT_EQ(remote.role, "primary");
  for (int i = 0; i < 2; ++i) {
    fleet.spawn(fast);
  }
  ASSERT_TRUE(fleet.wait_until([&] { return fleet.agreed(); }, 30));
  ASSERT_EQ(fleet.primaries().at(0), &remote);

  // Its record: another hostname, and a pid that names another process here.
  auto file = StateFile(state()).read();
  ASSERT_TRUE(file.ok());
  const InstanceRecord& rec = file.value().instances.at(remote.id);
  EXPECT_EQ(rec.hostname, "other-host");
  EXPECT_EQ(rec.host_pid, 1);
  auto local_ticks = ProcProbe{}.start_ticks(rec.host_pid);
  ASSERT_TRUE(!local_ticks || *local_ticks != rec.host_start_ticks)
      << "pid 1 here is the same process; the test would prove nothing";

  pump_for(fleet, 4 * threshold);  // four thresholds while it beats
  EXPECT_TRUE(fleet.agreed());
  EXPECT_EQ(fleet.primaries().at(0), &remote);
  EXPECT_EQ(ever_primary(fleet), 1) << "a local instance took over a remote primary that beats";

  // Stop it (the wrapper and the driver, one process group) at a moment it
  // does not hold the state file's lock: a stopped lock holder makes the
  // others Uncoordinated (SPEC §5), which is another test's matter.
  const int driver_pid = first_child(remote.pid());  // the driver under unshare --fork
  ASSERT_GT(driver_pid, 0) << "cannot find the driver under unshare";
  const double stopped_at =
      stop_outside_state_lock(fleet, -remote.pid(), driver_pid, StateFile(state()).lock_path());
  ASSERT_GT(stopped_at, 0) << "never caught the remote without the lock";
  ASSERT_TRUE(fleet.wait_until([&] { return primary_other_than(fleet, &remote) != nullptr; }, 20));
  Driver* successor = primary_other_than(fleet, &remote);
  // Not before the threshold, counted from its last heartbeat, which may
  // precede the SIGSTOP by one interval.
  EXPECT_GE(successor->role_mono - stopped_at, threshold - 0.05 - 0.01);
  EXPECT_EQ(fleet.file_primary(), successor->id);

  ASSERT_EQ(::kill(-remote.pid(), SIGCONT), 0);
  ASSERT_TRUE(fleet.wait_until([&] { return remote.role == "secondary"; }, 20))
      << "the remote primary did not step down";
  ASSERT_TRUE(fleet.wait_until([&] { return fleet.agreed(); }, 20));
  EXPECT_EQ(fleet.primaries().at(0), successor);
  expect_no_warnings(fleet);
}

// SPEC §5 Time with a real process: the primary's wall clock jumps an hour
// forward, then two hours back, while it runs (libfaketime reading its offset
// from a file at every call; monotonic and boot clocks left alone, as when
// someone sets the system clock). The others see its heartbeat keep changing:
// no takeover. The cooldown is never skipped and the schedule never stalls.
TEST_F(FaultMultiProcessTest, WallClockJumpOfAnHourOnThePrimaryUnderFaketime) {
  const char* lib = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";
  if (!fs::exists(lib)) {
    GTEST_SKIP() << "libfaketime is not installed (Debian package faketime)";
  }
  const fs::path offset = tmp_.path() / "faketime-offset";
  auto set_offset = [&](const std::string& text) {
    const fs::path temp = tmp_.path() / "faketime-offset.new";
    testing::spit(temp, text + "\n");
    fs::rename(temp, offset);
  };
  set_offset("+0");
  const char* asan = std::getenv("ASAN_OPTIONS");
  const std::string asan_options = std::string("ASAN_OPTIONS=") + (asan ? asan : "") +
                                   (asan && *asan ? ":" : "") + "verify_asan_link_order=0";
  const std::vector<std::string> faked = {
      "env", std::string("LD_PRELOAD=") + lib, "FAKETIME_TIMESTAMP_FILE=" + offset.string(),
      "FAKETIME_NO_CACHE=1", "FAKETIME_DONT_FAKE_MONOTONIC=1",
      // An ASan build wants its runtime first among the preloads; libfaketime
      // is preloaded before it, which is harmless here.
      asan_options};
  DriverFleet fleet(COORD_DRIVER_PATH, state());
  ShowOnFailure show{fleet};
  Driver& jumper = fleet.spawn(syncing, faked);
  ASSERT_TRUE(fleet.wait_until([&] { return jumper.ready; }, 30));
  ASSERT_EQ(jumper.role, "primary");
  for (int i = 0; i < 2; ++i) {
    fleet.spawn(syncing);
  }
  ASSERT_TRUE(fleet.wait_until([&] { return fleet.agreed(); }, 30));

  pump_for(fleet, 1.5);
  const double forward_at = mono_now();
  set_offset("+1h");
  pump_for(fleet, 2.0);
  const double back_at = mono_now();
  set_offset("-1h");
  pump_for(fleet, 2.0);
  const double end_at = mono_now();

  auto starts = sync_starts(fleet);
  auto count_between = [&](double from, double to) {
    int n = 0;
    for (const auto& s : starts) {
      n += s.mono >= from && s.mono < to;
    }
    return n;
  };
  // The jumps took effect: the wall stamps of its syncs moved by an hour.
  auto offset_near = [&](double from, double to) {
    for (const auto& s : starts) {
      if (s.mono >= from + 0.2 && s.mono < to) {
        return s.wall - SystemClock{}.wall() + (mono_now() - s.mono);
      }
    }
    return 0.0;
  };
  const double forward = offset_near(forward_at, back_at);
  const double back = offset_near(back_at, end_at);
  ASSERT_NEAR(forward, 3600, 60) << "faketime did not move the primary's wall clock";
  ASSERT_NEAR(back, -3600, 60) << "faketime did not move the primary's wall clock back";

  for (std::size_t i = 1; i < starts.size(); ++i) {
    EXPECT_EQ(starts[i].id, jumper.id) << "another instance synced: there was a takeover";
    // Between two syncs in the same frame of its wall clock, the recorded
    // starts tell exactly; across a jump only the printed times can, which
    // lag by however long begin_sync()'s fsync took.
    const double recorded_gap = starts[i].recorded - starts[i - 1].recorded;
    if (std::abs(recorded_gap) < 1000) {
      EXPECT_GE(recorded_gap, 0.4 - 0.02) << "two syncs within the cooldown (sync " << i << ")";
    } else {
      EXPECT_GE(starts[i].mono - starts[i - 1].mono, 0.4 - 0.25)
          << "two syncs within the cooldown across the jump (sync " << i << ")";
    }
  }
  // About 2.0 / 0.6 syncs in each phase: the schedule went on.
  EXPECT_GE(count_between(forward_at, back_at), 2) << "stalled after the forward jump";
  EXPECT_GE(count_between(back_at, end_at), 2) << "stalled after the backward jump";
  EXPECT_LE(count_between(forward_at, end_at), 8);
  EXPECT_TRUE(fleet.agreed());
  EXPECT_EQ(fleet.primaries().at(0), &jumper);
  EXPECT_EQ(ever_primary(fleet), 1) << "a wall-clock jump caused a takeover";
  expect_no_warnings(fleet);
}

}  // namespace
}  // namespace himalaya::coordinator
