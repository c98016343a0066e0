#include "host/status_report.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

namespace himalaya::host {
namespace {

CoordinationFacts coordination(std::optional<PrimaryFacts> primary,
                               std::optional<LastSyncFacts> last_sync, double cooldown) {
  CoordinationFacts c;
  c.primary = std::move(primary);
  c.last_sync = std::move(last_sync);
  c.cooldown_remaining = cooldown;
  return c;
}

TEST(FormatDuration, SecondsMinutesHoursRoundedDownWithSingular) {
  EXPECT_EQ(format_duration(0), "0 seconds");
  EXPECT_EQ(format_duration(0.9), "0 seconds");
  EXPECT_EQ(format_duration(1), "1 second");
  EXPECT_EQ(format_duration(1.99), "1 second");
  EXPECT_EQ(format_duration(5), "5 seconds");
  EXPECT_EQ(format_duration(59.999), "59 seconds");
  EXPECT_EQ(format_duration(60), "1 minute");
  EXPECT_EQ(format_duration(119), "1 minute");
  EXPECT_EQ(format_duration(120), "2 minutes");
  EXPECT_EQ(format_duration(3599), "59 minutes");
  EXPECT_EQ(format_duration(3600), "1 hour");
  EXPECT_EQ(format_duration(7199), "1 hour");
  EXPECT_EQ(format_duration(7200), "2 hours");
  EXPECT_EQ(format_duration(49 * 3600), "49 hours");
}

TEST(FormatDuration, NegativeAndNanReadAsZero) {
  EXPECT_EQ(format_duration(-5), "0 seconds");
  EXPECT_EQ(format_duration(std::nan("")), "0 seconds");
}

TEST(RenderStatus, UncoordinatedShowsOnlyTheCurrentInstance) {
  StatusFacts facts{"nvim_1704123456_7890", "Uncoordinated", 7890, std::nullopt};
  std::vector<std::string> expected{
      "# Himalaya Sync Coordination Status",
      "",
      "## Current Instance",
      "  Instance ID: nvim_1704123456_7890",
      "  Role: Uncoordinated",
      "  PID: 7890",
  };
  EXPECT_EQ(render_status(facts), expected);
}

TEST(RenderStatus, FullReportMatchesTheSpecExample) {
  StatusFacts facts{"nvim_1704123456_7890", "Primary Coordinator", 12345,
                    coordination(PrimaryFacts{"nvim_1704123456_7890", 12345, 5.4, true},
                                 LastSyncFacts{3 * 60 + 20, "nvim_1704123456_7890"}, 2 * 60 + 59)};
  std::vector<std::string> expected{
      "# Himalaya Sync Coordination Status",
      "",
      "## Current Instance",
      "  Instance ID: nvim_1704123456_7890",
      "  Role: Primary Coordinator",
      "  PID: 12345",
      "",
      "## Primary Coordinator",
      "  Instance: nvim_1704123456_7890",
      "  PID: 12345",
      "  Last Heartbeat: 5 seconds ago",
      "  Status: Active",
      "",
      "## Sync History",
      "  Last Sync: 3 minutes ago",
      "  By Instance: nvim_1704123456_7890",
      "  Cooldown: 2 minutes remaining",
  };
  EXPECT_EQ(render_status(facts), expected);
}

TEST(RenderStatus, NoPrimaryNeverSyncedAndReady) {
  StatusFacts facts{"nvim_1_2", "Secondary", 2, CoordinationFacts{}};
  std::vector<std::string> lines = render_status(facts);
  std::vector<std::string> tail(lines.begin() + 6, lines.end());
  std::vector<std::string> expected{
      "",
      "## Primary Coordinator",
      "  No primary coordinator",
      "",
      "## Sync History",
      "  Last Sync: Never",
      "  Cooldown: Ready",
  };
  EXPECT_EQ(tail, expected);
}

TEST(RenderStatus, StalePrimary) {
  StatusFacts facts{"nvim_1_2", "Secondary", 2,
                    coordination(PrimaryFacts{"nvim_0_1", 1, 61, false}, std::nullopt, 0)};
  std::vector<std::string> lines = render_status(facts);
  ASSERT_GE(lines.size(), 12u);
  EXPECT_EQ(lines[10], "  Last Heartbeat: 1 minute ago");
  EXPECT_EQ(lines[11], "  Status: Stale");
}

}  // namespace
}  // namespace himalaya::host

namespace himalaya::host {
namespace {

TEST(RenderStatus, InstancesAndLastResultFollowTheSpecSections) {
  CoordinationFacts c;
  c.primary = PrimaryFacts{"nvim_1_10", 10, 2, true};
  c.last_sync = LastSyncFacts{30, "nvim_1_10"};
  c.cooldown_remaining = 0;
  c.running_sync = "nvim_1_10";
  c.instances = {InstanceFacts{"nvim_1_10", "primary", "laptop", 10, 2.5},
                 InstanceFacts{"nvim_2_20", "suspended", "laptop", 20, 61}};
  c.last_result = LastResultFacts{"failed", 125, "nvim_1_10", "authentication failed"};
  StatusFacts facts{"nvim_2_20", "Secondary", 20, c};
  std::vector<std::string> lines = render_status(facts);
  std::vector<std::string> tail(lines.begin() + 16, lines.end());
  std::vector<std::string> expected{
      "  Cooldown: Ready",
      "  Running: a sync by nvim_1_10",
      "",
      "## Instances",
      "  nvim_1_10  primary  host laptop  pid 10  heartbeat 2 seconds ago",
      "  nvim_2_20  suspended  host laptop  pid 20  heartbeat 1 minute ago",
      "",
      "## Last Result",
      "  Result: failed",
      "  Ended: 2 minutes ago",
      "  By Instance: nvim_1_10",
      "  Message: authentication failed",
  };
  EXPECT_EQ(tail, expected);
}

}  // namespace
}  // namespace himalaya::host
