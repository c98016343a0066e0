#include "host/status_report.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

namespace himalaya::host {
namespace {

using coordinator::Role;
using coordinator::Status;

// The wall clock of every status below; stamps are counted back from it.
constexpr double now = 1704123456 + 3600;

Status status_of(std::string instance_id, Role role, int nvim_pid) {
  Status s;
  s.instance_id = std::move(instance_id);
  s.role = role;
  s.nvim_pid = nvim_pid;
  return s;
}

Status::Instance instance(std::string id, bool primary, bool released, int nvim_pid,
                          double heartbeat_age) {
  Status::Instance i;
  i.instance_id = std::move(id);
  i.primary = primary;
  i.released = released;
  i.hostname = "laptop";
  i.nvim_pid = nvim_pid;
  i.host_pid = nvim_pid + 1;
  i.heartbeat_age = heartbeat_age;
  return i;
}

// A fleet of two on one laptop: nvim_1_10 the primary and syncing now,
// nvim_2_20 suspended; the last sync, by the primary, failed.
Status busy_fleet() {
  Status s = status_of("nvim_2_20", Role::secondary, 20);
  s.primary = Status::Primary{"nvim_1_10", 10, 2, true};
  s.last_sync = Status::LastSync{now - 30, 30, "nvim_1_10"};
  s.cooldown_remaining = 0;
  s.running_sync = Status::RunningSync{"nvim_1_10", now - 30, 30};
  s.instances = {instance("nvim_1_10", true, false, 10, 2.5),
                 instance("nvim_2_20", false, true, 20, 61)};
  coordinator::SyncResult r;
  r.instance_id = "nvim_1_10";
  r.started = now - 200;
  r.ended = now - 125;
  r.outcome = coordinator::SyncOutcome::failed;
  r.message = "authentication failed";
  s.last_result = r;
  return s;
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

TEST(RenderStatus, BeforeStartShowsOnlyTheCurrentInstanceAsUncoordinated) {
  std::vector<std::string> expected{
      "# Himalaya Sync Coordination Status",
      "",
      "## Current Instance",
      "  Instance ID: nvim_1704123456_7890",
      "  Role: Uncoordinated",
      "  PID: 7890",
  };
  EXPECT_EQ(render_status_before_start("nvim_1704123456_7890", 7890), expected);
}

TEST(RenderStatus, FullReportMatchesTheSpecExample) {
  Status s = status_of("nvim_1704123456_7890", Role::primary, 12345);
  s.primary = Status::Primary{"nvim_1704123456_7890", 12345, 5.4, true};
  s.last_sync = Status::LastSync{now - 200, 3 * 60 + 20, "nvim_1704123456_7890"};
  s.cooldown_remaining = 2 * 60 + 59;
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
  EXPECT_EQ(render_status(s, now), expected);
}

TEST(RenderStatus, NoPrimaryNeverSyncedAndReady) {
  std::vector<std::string> lines = render_status(status_of("nvim_1_2", Role::secondary, 2), now);
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

TEST(RenderStatus, UncoordinatedOnceStartedShowsEverySection) {
  std::vector<std::string> lines =
      render_status(status_of("nvim_1_2", Role::uncoordinated, 2), now);
  ASSERT_EQ(lines.size(), 13u);
  EXPECT_EQ(lines[4], "  Role: Uncoordinated");
  EXPECT_EQ(lines[8], "  No primary coordinator");
  EXPECT_EQ(lines[11], "  Last Sync: Never");
}

TEST(RenderStatus, StalePrimary) {
  Status s = status_of("nvim_1_2", Role::secondary, 2);
  s.primary = Status::Primary{"nvim_0_1", 1, 61, false};
  std::vector<std::string> lines = render_status(s, now);
  ASSERT_GE(lines.size(), 12u);
  EXPECT_EQ(lines[10], "  Last Heartbeat: 1 minute ago");
  EXPECT_EQ(lines[11], "  Status: Stale");
}

TEST(RenderStatus, InstancesAndLastResultFollowTheSpecSections) {
  std::vector<std::string> lines = render_status(busy_fleet(), now);
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

TEST(RenderStatus, IntervalEndsTheSyncHistoryWithThePolicyThatChoseIt) {
  Status s = status_of("nvim_1_2", Role::primary, 2);
  s.interval = Status::Interval{900, ""};
  std::vector<std::string> lines = render_status(s, now);
  ASSERT_EQ(lines.size(), 14u);
  EXPECT_EQ(lines[12], "  Cooldown: Ready");
  EXPECT_EQ(lines[13], "  Interval: 15 minutes");
  s.interval = Status::Interval{3600, "away"};
  EXPECT_EQ(render_status(s, now)[13], "  Interval: 1 hour (away)");
  s.interval = Status::Interval{240, "adaptive"};
  EXPECT_EQ(render_status(s, now)[13], "  Interval: 4 minutes (adaptive)");
  const auto json = status_json(s, now);
  EXPECT_EQ(json["interval"]["seconds"], 240);
  EXPECT_EQ(json["interval"]["reason"], "adaptive");
  s.interval = Status::Interval{900, ""};
  EXPECT_EQ(status_json(s, now)["interval"]["reason"], "fixed");
  s.interval.reset();
  EXPECT_FALSE(status_json(s, now).contains("interval"));
}

TEST(RenderStatus, AnInstanceNeitherPrimaryNorSuspendedIsSecondary) {
  Status s = status_of("nvim_3_30", Role::secondary, 30);
  s.instances = {instance("nvim_3_30", false, false, 30, 0)};
  std::vector<std::string> lines = render_status(s, now);
  EXPECT_EQ(lines.back(), "  nvim_3_30  secondary  host laptop  pid 30  heartbeat 0 seconds ago");
}

TEST(RenderStatus, ASuccessfulLastResultHasNoMessageLine) {
  Status s = busy_fleet();
  s.last_result->outcome = coordinator::SyncOutcome::ok;
  s.last_result->message.clear();
  std::vector<std::string> lines = render_status(s, now);
  std::vector<std::string> tail(lines.end() - 4, lines.end());
  std::vector<std::string> expected{
      "## Last Result",
      "  Result: ok",
      "  Ended: 2 minutes ago",
      "  By Instance: nvim_1_10",
  };
  EXPECT_EQ(tail, expected);
}

// The JSON facts are what :checkhealth reads (health.lua): the same facts as
// the report, under the keys the Lua side names.
TEST(StatusJson, TheReportsFactsUnderTheirKeysWithTheLines) {
  Status s = busy_fleet();
  nlohmann::json value = status_json(s, now);
  EXPECT_EQ(value.at("instance"),
            (nlohmann::json{{"id", "nvim_2_20"}, {"role", "Secondary"}, {"pid", 20}}));
  EXPECT_EQ(
      value.at("primary"),
      (nlohmann::json{
          {"instance_id", "nvim_1_10"}, {"pid", 10}, {"heartbeat_age", 2.0}, {"active", true}}));
  EXPECT_EQ(value.at("last_sync"), (nlohmann::json{{"instance_id", "nvim_1_10"}, {"age", 30.0}}));
  EXPECT_EQ(value.at("cooldown_remaining"), 0.0);
  EXPECT_EQ(value.at("running_sync"), "nvim_1_10");
  EXPECT_EQ(value.at("last_result"), (nlohmann::json{{"outcome", "failed"},
                                                     {"age", 125.0},
                                                     {"instance_id", "nvim_1_10"},
                                                     {"message", "authentication failed"}}));
  nlohmann::json instances = nlohmann::json::array();
  instances.push_back({{"instance_id", "nvim_1_10"},
                       {"role", "primary"},
                       {"hostname", "laptop"},
                       {"pid", 10},
                       {"heartbeat_age", 2.5}});
  instances.push_back({{"instance_id", "nvim_2_20"},
                       {"role", "suspended"},
                       {"hostname", "laptop"},
                       {"pid", 20},
                       {"heartbeat_age", 61.0}});
  EXPECT_EQ(value.at("instances"), instances);
  EXPECT_EQ(value.at("lines"), nlohmann::json(render_status(s, now)));
  EXPECT_EQ(value.size(), 8u);
}

TEST(StatusJson, UnknownFactsAreLeftOut) {
  nlohmann::json value = status_json(status_of("nvim_1_2", Role::primary, 2), now);
  EXPECT_FALSE(value.contains("primary"));
  EXPECT_FALSE(value.contains("last_sync"));
  EXPECT_FALSE(value.contains("running_sync"));
  EXPECT_FALSE(value.contains("last_result"));
  EXPECT_EQ(value.at("instance").at("role"), "Primary Coordinator");
  EXPECT_EQ(value.at("cooldown_remaining"), 0.0);
  EXPECT_EQ(value.at("instances"), nlohmann::json::array());
}

TEST(StatusJson, BeforeStartOnlyTheInstanceAndTheLines) {
  nlohmann::json value = status_json_before_start("nvim_1_2", 2);
  nlohmann::json expected{
      {"instance", {{"id", "nvim_1_2"}, {"role", "Uncoordinated"}, {"pid", 2}}},
      {"lines", render_status_before_start("nvim_1_2", 2)},
  };
  EXPECT_EQ(value, expected);
}

}  // namespace
}  // namespace himalaya::host
