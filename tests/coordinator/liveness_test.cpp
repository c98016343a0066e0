#include "coordinator/liveness.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "coordinator/identity.h"
#include "test_support.h"

namespace himalaya::coordinator {
namespace {

using testing::FakeProbe;
using testing::here;
using testing::identity;

TEST(IdentityTest, ParsesStartTicksAfterTheLastParenthesis) {
  // comm may hold spaces and parentheses.
  std::string line =
      "4242 (we ird) (name)) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 "
      "987654 12345678 300 18446744073709551615";
  auto t = parse_stat_start_ticks(line);
  ASSERT_TRUE(t);
  EXPECT_EQ(*t, 987654u);
}

TEST(IdentityTest, ZombiesAndMalformedLinesCountAsGone) {
  EXPECT_FALSE(parse_stat_start_ticks("1 (x) Z 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 555 0 0"));
  EXPECT_FALSE(parse_stat_start_ticks("1 (x) S 1 2"));
  EXPECT_FALSE(parse_stat_start_ticks("garbage"));
  EXPECT_FALSE(parse_stat_start_ticks(""));
}

TEST(IdentityTest, ProcProbeSeesThisProcessAndNotAnImpossiblePid) {
  ProcProbe probe;
  auto mine = probe.start_ticks(::getpid());
  ASSERT_TRUE(mine);
  EXPECT_GT(*mine, 0u);
  EXPECT_FALSE(probe.start_ticks(0));
  EXPECT_FALSE(probe.start_ticks(4194304 + 7));
}

TEST(IdentityTest, MakeIdentityFillsEverything) {
  FakeClock clock(1704123456.7);
  ProcProbe probe;
  Identity id = make_identity(::getpid(), "0.7.2", clock, probe);
  EXPECT_EQ(id.instance_id, "nvim_1704123456_" + std::to_string(::getpid()));
  EXPECT_EQ(id.host_pid, ::getpid());
  EXPECT_GT(id.host_start_ticks, 0u);
  EXPECT_EQ(id.nvim_start_ticks, id.host_start_ticks);
  EXPECT_FALSE(id.host.hostname.empty());
  EXPECT_EQ(id.host.boot_id.size(), 36u);
}

class LivenessTest : public ::testing::Test {
 protected:
  InstanceRecord record(const HostFacts& host = here()) {
    auto r = to_record(identity("nvim_1_100", 100, 1), 1, false);
    r.hostname = host.hostname;
    r.boot_id = host.boot_id;
    return r;
  }
  FakeProbe probe_;
  Observations seen_;
};

TEST_F(LivenessTest, LiveProcessIsLive) {
  probe_.table[100] = 1000;
  auto r = record();
  State s;
  s.instances[r.instance_id] = r;
  seen_.observe(s, 0);
  EXPECT_EQ(judge(r, here(), probe_, seen_, 10, 60), Liveness::live);
}

TEST_F(LivenessTest, GonePidIsDead) {
  auto r = record();
  EXPECT_EQ(judge(r, here(), probe_, seen_, 0, 60), Liveness::dead);
}

TEST_F(LivenessTest, ReusedPidIsDead) {
  probe_.table[100] = 999999;  // same pid, another process
  auto r = record();
  EXPECT_TRUE(process_gone(r, here(), probe_));
  EXPECT_EQ(judge(r, here(), probe_, seen_, 0, 60), Liveness::dead);
}

TEST_F(LivenessTest, OtherHostIsJudgedByHeartbeatOnly) {
  auto r = record(HostFacts{"other-box", "boot-1"});  // its pid means nothing here
  State s;
  s.instances[r.instance_id] = r;
  seen_.observe(s, 0);
  EXPECT_FALSE(process_gone(r, here(), probe_));
  EXPECT_EQ(judge(r, here(), probe_, seen_, 59, 60), Liveness::live);
  EXPECT_EQ(judge(r, here(), probe_, seen_, 61, 60), Liveness::stale);
  r.last_heartbeat = 2;  // it beats
  s.instances[r.instance_id] = r;
  seen_.observe(s, 61);
  EXPECT_EQ(judge(r, here(), probe_, seen_, 62, 60), Liveness::live);
}

TEST_F(LivenessTest, OtherBootIsJudgedByHeartbeatOnly) {
  auto r = record(HostFacts{"box", "boot-0"});  // an earlier boot of this host
  State s;
  s.instances[r.instance_id] = r;
  seen_.observe(s, 0);
  EXPECT_FALSE(process_gone(r, here(), probe_));
  EXPECT_EQ(judge(r, here(), probe_, seen_, 30, 60), Liveness::live);
  EXPECT_EQ(judge(r, here(), probe_, seen_, 61, 60), Liveness::stale);
}

TEST_F(LivenessTest, WallClockValueOfHeartbeatIsNeverComparedToNow) {
  // A heartbeat stamped an hour in the past (or future) is fresh as long as it
  // keeps changing.
  probe_.table[100] = 1000;
  auto r = record();
  r.last_heartbeat = -3600;
  State s;
  s.instances[r.instance_id] = r;
  seen_.observe(s, 100);
  EXPECT_EQ(judge(r, here(), probe_, seen_, 101, 60), Liveness::live);
}

TEST_F(LivenessTest, ObservedAgeCountsFromFirstSightAndResetsOnChange) {
  State s;
  auto r = record();
  s.instances[r.instance_id] = r;
  seen_.observe(s, 10);
  seen_.observe(s, 50);  // unchanged: age keeps counting from 10
  EXPECT_DOUBLE_EQ(*seen_.instance_age(r.instance_id, 50), 40);
  s.instances[r.instance_id].last_heartbeat = 7;
  seen_.observe(s, 55);
  EXPECT_DOUBLE_EQ(*seen_.instance_age(r.instance_id, 56), 1);
  s.instances.clear();
  seen_.observe(s, 57);
  EXPECT_FALSE(seen_.instance_age(r.instance_id, 57));
}

}  // namespace
}  // namespace himalaya::coordinator
