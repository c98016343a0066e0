#include "host/config.h"

#include <gtest/gtest.h>

#include <string>

namespace himalaya::host {
namespace {

const char* const full = R"({
  "instance_id": "nvim_1704123456_7890", "nvim_pid": 7890, "nvim_version": "0.7.2",
  "debug": true, "state_file": "/tmp/x/sync_coordinator.json", "log_file": "/tmp/x/coord.log",
  "sync": {"auto_sync": false, "interval": 0.5, "startup_delay": 0, "command": ["true", "-a"],
           "timeout": 3, "lock_file": "/tmp/x/mbsync.lock",
           "coordination": {"enabled": false, "heartbeat_interval": 0.05,
                            "takeover_threshold": 0.3, "sync_cooldown": 0.2,
                            "priority": -2.5},
           "push": {"enabled": true, "mbsyncrc": "/tmp/x/rc", "mailboxes": ["INBOX", "Lists"],
                    "min_gap": 0.25}}})";

TEST(ParseConfig, ReadsEveryField) {
  ConfigResult r = parse_config(full);
  ASSERT_TRUE(r.config) << r.error;
  const HostConfig& c = *r.config;
  EXPECT_EQ(c.instance_id, "nvim_1704123456_7890");
  EXPECT_EQ(c.nvim_pid, 7890);
  EXPECT_EQ(c.nvim_version, "0.7.2");
  EXPECT_TRUE(c.debug);
  EXPECT_EQ(c.state_file, "/tmp/x/sync_coordinator.json");
  EXPECT_EQ(c.log_file, "/tmp/x/coord.log");
  EXPECT_FALSE(c.sync.auto_sync);
  EXPECT_EQ(c.sync.push.mode, PushMode::on);
  EXPECT_EQ(c.sync.push.mbsyncrc, "/tmp/x/rc");
  EXPECT_EQ(c.sync.push.mailboxes, (std::vector<std::string>{"INBOX", "Lists"}));
  EXPECT_DOUBLE_EQ(c.timings.push_min_gap, 0.25);
  EXPECT_DOUBLE_EQ(c.timings.interval, 0.5);
  EXPECT_DOUBLE_EQ(c.timings.startup_delay, 0);
  EXPECT_EQ(c.sync.command, (std::vector<std::string>{"true", "-a"}));
  EXPECT_DOUBLE_EQ(c.timings.sync_timeout, 3);
  EXPECT_EQ(c.sync.lock_file, "/tmp/x/mbsync.lock");
  EXPECT_FALSE(c.sync.coordination.enabled);
  EXPECT_DOUBLE_EQ(c.timings.heartbeat_interval, 0.05);
  EXPECT_DOUBLE_EQ(c.timings.takeover_threshold, 0.3);
  EXPECT_DOUBLE_EQ(c.timings.sync_cooldown, 0.2);
  EXPECT_DOUBLE_EQ(c.sync.coordination.priority, -2.5);
}

TEST(ParseConfig, ReadsSyncAdaptive) {
  ConfigResult r = parse_config(
      R"({"instance_id": "nvim_1_2", "nvim_pid": 2, "sync": {"adaptive":
          {"enabled": true, "min_interval": 90, "max_interval": 1800.5}}})");
  ASSERT_TRUE(r.config) << r.error;
  EXPECT_TRUE(r.config->timings.adaptive.enabled);
  EXPECT_DOUBLE_EQ(r.config->timings.adaptive.min_interval, 90);
  EXPECT_DOUBLE_EQ(r.config->timings.adaptive.max_interval, 1800.5);
  ConfigResult d = parse_config(R"({"instance_id": "nvim_1_2", "nvim_pid": 2})");
  ASSERT_TRUE(d.config) << d.error;
  EXPECT_FALSE(d.config->timings.adaptive.enabled);
  EXPECT_DOUBLE_EQ(d.config->timings.adaptive.min_interval, 120);
  EXPECT_DOUBLE_EQ(d.config->timings.adaptive.max_interval, 3600);
}

TEST(ParseConfig, DefaultsForOmittedOptions) {
  ConfigResult r = parse_config(R"({"instance_id": "nvim_1_2", "nvim_pid": 2})");
  ASSERT_TRUE(r.config) << r.error;
  EXPECT_DOUBLE_EQ(r.config->timings.interval, 900);
  EXPECT_EQ(r.config->sync.command, (std::vector<std::string>{"mbsync", "-a"}));
  EXPECT_DOUBLE_EQ(r.config->timings.takeover_threshold, 60);
  EXPECT_EQ(r.config->sync.push.mode, PushMode::automatic);  // SPEC §10: enabled = 'auto'
  EXPECT_EQ(r.config->sync.push.mailboxes, std::vector<std::string>{"INBOX"});
  EXPECT_EQ(r.config->sync.push.mbsyncrc, "");
  EXPECT_DOUBLE_EQ(r.config->timings.push_min_gap, 2);
  EXPECT_DOUBLE_EQ(r.config->timings.away_after, 900);      // SPEC §11: away = { after = 900,
  EXPECT_DOUBLE_EQ(r.config->timings.away_interval, 3600);  //          interval = 3600 }
}

TEST(ParseConfig, AwayTimesAndAfterFalseTurningItOff) {
  ConfigResult r = parse_config(
      R"({"instance_id": "i", "nvim_pid": 2, "sync": {"away": {"after": 1.5, "interval": 4}}})");
  ASSERT_TRUE(r.config) << r.error;
  EXPECT_DOUBLE_EQ(r.config->timings.away_after, 1.5);
  EXPECT_DOUBLE_EQ(r.config->timings.away_interval, 4);
  r = parse_config(R"({"instance_id": "i", "nvim_pid": 2, "sync": {"away": {"after": false}}})");
  ASSERT_TRUE(r.config) << r.error;
  EXPECT_DOUBLE_EQ(r.config->timings.away_after, 0);
}

struct BadCase {
  const char* json;
  const char* error_prefix;
};

class ParseConfigErrors : public ::testing::TestWithParam<BadCase> {};

TEST_P(ParseConfigErrors, NamesTheKey) {
  ConfigResult r = parse_config(GetParam().json);
  EXPECT_FALSE(r.config);
  EXPECT_EQ(r.error.rfind(GetParam().error_prefix, 0), 0u) << r.error;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ParseConfigErrors,
    ::testing::Values(
        BadCase{"not json", "config: not valid JSON"}, BadCase{"[1]", "config: expected"},
        BadCase{R"({"nvim_pid": 2})", "instance_id:"},
        BadCase{R"({"instance_id": "i", "nvim_pid": -1})", "nvim_pid:"},
        BadCase{R"({"instance_id": "i", "nvim_pid": 2, "debug": 1})", "debug:"},
        BadCase{R"({"instance_id": "i", "nvim_pid": 2, "state_file": "rel"})", "state_file:"},
        BadCase{R"({"instance_id": "i", "nvim_pid": 2, "sync": []})", "sync:"},
        BadCase{R"({"instance_id": "i", "nvim_pid": 2, "sync": {"interval": 0}})",
                "sync.interval:"},
        BadCase{R"({"instance_id": "i", "nvim_pid": 2, "sync": {"interval": "9"}})",
                "sync.interval:"},
        BadCase{R"({"instance_id": "i", "nvim_pid": 2, "sync": {"startup_delay": -1}})",
                "sync.startup_delay:"},
        BadCase{R"({"instance_id": "i", "nvim_pid": 2, "sync": {"command": []}})", "sync.command:"},
        BadCase{R"({"instance_id": "i", "nvim_pid": 2, "sync": {"command": [1]}})",
                "sync.command:"},
        BadCase{R"({"instance_id": "i", "nvim_pid": 2, "sync": {"coordination":
                  {"heartbeat_interval": 60, "takeover_threshold": 60}}})",
                "sync.coordination.heartbeat_interval:"},
        BadCase{R"({"instance_id": "i", "nvim_pid": 2, "sync": {"coordination":
                  {"sync_cooldown": -3}}})",
                "sync.coordination.sync_cooldown:"},
        BadCase{R"({"instance_id": "i", "nvim_pid": 2, "sync": {"coordination":
                  {"priority": "high"}}})",
                "sync.coordination.priority:"},
        BadCase{R"({"instance_id": "i", "nvim_pid": 2, "sync": {"push": {"enabled": "yes"}}})",
                "sync.push.enabled:"},
        BadCase{R"({"instance_id": "i", "nvim_pid": 2, "sync": {"push": {"mbsyncrc": "rc"}}})",
                "sync.push.mbsyncrc:"},
        BadCase{R"({"instance_id": "i", "nvim_pid": 2, "sync": {"push": {"mailboxes": []}}})",
                "sync.push.mailboxes:"},
        BadCase{R"({"instance_id": "i", "nvim_pid": 2, "sync": {"push": {"mailboxes": [""]}}})",
                "sync.push.mailboxes:"},
        BadCase{R"({"instance_id": "i", "nvim_pid": 2, "sync": {"push": {"min_gap": -1}}})",
                "sync.push.min_gap:"},
        BadCase{R"({"instance_id": "i", "nvim_pid": 2, "sync": {"push": []}})", "sync.push:"},
        BadCase{R"({"instance_id": "i", "nvim_pid": 2, "sync": {"adaptive": []}})",
                "sync.adaptive:"},
        BadCase{R"({"instance_id": "i", "nvim_pid": 2, "sync": {"adaptive": {"enabled": 1}}})",
                "sync.adaptive.enabled:"},
        BadCase{R"({"instance_id": "i", "nvim_pid": 2, "sync": {"adaptive": {"min_interval": 0}}})",
                "sync.adaptive.min_interval:"},
        BadCase{
            R"({"instance_id": "i", "nvim_pid": 2, "sync": {"adaptive": {"max_interval": "1h"}}})",
            "sync.adaptive.max_interval:"},
        BadCase{R"({"instance_id": "i", "nvim_pid": 2, "sync": {"adaptive":
                  {"min_interval": 600, "max_interval": 300}}})",
                "sync.adaptive.min_interval:"},
        BadCase{R"({"instance_id": "i", "nvim_pid": 2, "sync": {"away": {"after": true}}})",
                "sync.away.after:"},
        BadCase{R"({"instance_id": "i", "nvim_pid": 2, "sync": {"away": {"after": 0}}})",
                "sync.away.after:"},
        BadCase{R"({"instance_id": "i", "nvim_pid": 2, "sync": {"away": {"interval": -1}}})",
                "sync.away.interval:"},
        BadCase{R"({"instance_id": "i", "nvim_pid": 2, "sync": {"away": 5}})", "sync.away:"}));

}  // namespace
}  // namespace himalaya::host
