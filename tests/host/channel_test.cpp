// sync.channels on the host's side (SPEC §11): the options, the command and
// lock of each channel, and `## Channels` in the status.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "host/channel_runs.h"
#include "host/config.h"
#include "host/status_report.h"

namespace himalaya::host {
namespace {

using Argv = std::vector<std::string>;

std::string with_sync(const std::string& sync) {
  return R"({"instance_id": "nvim_1_2", "nvim_pid": 2, "state_file": "/tmp/s", "log_file": "/tmp/l",
             "sync": {"lock_file": "/tmp/x/mbsync.lock", )" +
         sync + "}}";
}

TEST(ChannelConfig, ReadsTheChannelsInOrderAndMaxParallel) {
  ConfigResult r = parse_config(with_sync(
      R"("channels": [{"name": "inbox", "interval": 120}, {"name": "work", "interval": 3600}],
         "max_parallel": 3)"));
  ASSERT_TRUE(r.config) << r.error;
  const auto& c = r.config->sync.channels;
  ASSERT_EQ(c.specs.size(), 2u);
  EXPECT_EQ(c.specs[0].name, "inbox");
  EXPECT_DOUBLE_EQ(c.specs[0].interval, 120);
  EXPECT_EQ(c.specs[1].name, "work");
  EXPECT_EQ(c.max_parallel, 3);
}

TEST(ChannelConfig, NoneByDefaultAndAnEmptyTableIsNone) {
  ConfigResult r = parse_config(with_sync(R"("auto_sync": true)"));
  ASSERT_TRUE(r.config) << r.error;
  EXPECT_TRUE(r.config->sync.channels.specs.empty());
  EXPECT_EQ(r.config->sync.channels.max_parallel, 2);
  r = parse_config(with_sync(R"("channels": {})"));
  ASSERT_TRUE(r.config) << r.error;
  EXPECT_TRUE(r.config->sync.channels.specs.empty());
}

TEST(ChannelConfig, EachBadValueNamesItsKey) {
  const std::vector<std::pair<std::string, std::string>> cases{
      {R"("channels": "inbox")", "sync.channels: expected a list"},
      {R"("channels": [3])", "sync.channels[1]: expected { name = ..., interval = ... }"},
      {R"("channels": [{"interval": 5}])", "sync.channels[1].name: expected the name"},
      {R"("channels": [{"name": "", "interval": 5}])", "sync.channels[1].name: expected the name"},
      {R"("channels": [{"name": "a"}])", "sync.channels[1].interval: expected a positive"},
      {R"("channels": [{"name": "a", "interval": -1}])", "sync.channels[1].interval: must be"},
      {R"("channels": [{"name": "a", "interval": 1}, {"name": "a", "interval": 2}])",
       "sync.channels[2].name: channel 'a' is listed twice"},
      {R"("max_parallel": 0)", "sync.max_parallel: expected a whole number from 1 to 64"},
      {R"("max_parallel": 1.5)", "sync.max_parallel: expected a whole number from 1 to 64"},
  };
  for (const auto& [sync, expected] : cases) {
    ConfigResult r = parse_config(with_sync(sync));
    EXPECT_FALSE(r.config) << sync;
    EXPECT_EQ(r.error.rfind(expected, 0), 0u) << sync << " gave: " << r.error;
  }
}

TEST(ChannelRunsTest, TheCommandIsMbsyncWithTheConfigurationTheSyncCommandReads) {
  EXPECT_EQ(ChannelRuns::command_for({"mbsync", "-a"}, "", "inbox"), (Argv{"mbsync", "inbox"}));
  EXPECT_EQ(ChannelRuns::command_for({"/usr/bin/mbsync", "-c", "/x/rc", "-a"}, "/y/rc", "inbox"),
            (Argv{"/usr/bin/mbsync", "-c", "/x/rc", "inbox"}));
  EXPECT_EQ(ChannelRuns::command_for({"mbsync", "-Vc", "/x/rc", "-a"}, "", "inbox"),
            (Argv{"mbsync", "-c", "/x/rc", "inbox"}));
  EXPECT_EQ(ChannelRuns::command_for({"mbsync", "--config=/x/rc", "-a"}, "", "inbox"),
            (Argv{"mbsync", "-c", "/x/rc", "inbox"}));
  EXPECT_EQ(ChannelRuns::command_for({"mbsync", "-a"}, "/y/rc", "work"),
            (Argv{"mbsync", "-c", "/y/rc", "work"}));
  // A wrapper script cannot be given a channel: mbsync itself runs it.
  EXPECT_EQ(ChannelRuns::command_for({"my-sync", "-c", "/x/rc"}, "/y/rc", "work"),
            (Argv{"mbsync", "-c", "/y/rc", "work"}));
}

TEST(ChannelRunsTest, EachChannelHasALockOfItsOwn) {
  EXPECT_EQ(ChannelRuns::lock_for("/run/h/mbsync.lock", "inbox"), "/run/h/mbsync.lock.inbox");
  EXPECT_EQ(ChannelRuns::lock_for("/run/h/mbsync.lock", "a/b"), "/run/h/mbsync.lock.a_b");
  EXPECT_NE(ChannelRuns::lock_for("/l", "inbox"), ChannelRuns::lock_for("/l", "sent"));
}

TEST(ChannelStatus, TheChannelsSectionShowsOwnerLastSyncNextDueAndResult) {
  coordinator::Status s;
  s.instance_id = "nvim_1_10";
  s.role = coordinator::Role::primary;
  s.nvim_pid = 10;
  coordinator::Status::Channel inbox;
  inbox.name = "inbox";
  inbox.interval = 120;
  inbox.owner = "nvim_1_10";
  inbox.last_sync_age = 65;
  inbox.next_due = 55;
  inbox.last_result = coordinator::SyncResult{"nvim_1_10", 1, 2, coordinator::SyncOutcome::ok, ""};
  coordinator::Status::Channel archive;
  archive.name = "archive";
  archive.interval = 3600;
  archive.owner = "nvim_2_20";
  archive.running = coordinator::Status::RunningSync{"nvim_2_20", 1, 12};
  coordinator::Status::Channel lists;
  lists.name = "lists";
  lists.interval = 900;
  lists.next_due = 0;
  s.channels = {inbox, archive, lists};
  s.interval = coordinator::Status::Interval{900, ""};
  s.last_result = inbox.last_result;
  s.last_result->channel = "inbox";

  const auto lines = render_status(s, 100);
  EXPECT_NE(std::find(lines.begin(), lines.end(), "  Interval: each channel its own (## Channels)"),
            lines.end())
      << "sync.interval does not apply with channels";
  EXPECT_NE(std::find(lines.begin(), lines.end(), "  Channel: inbox"), lines.end())
      << "the last result says which channel it was";
  const std::vector<std::string> expected{
      "## Channels",
      "  inbox  every 2 minutes  owner nvim_1_10  last sync 1 minute ago  next in 55 seconds"
      "  last result ok",
      "  archive  every 1 hour  owner nvim_2_20  last sync never  running for 12 seconds",
      "  lists  every 15 minutes  owner none  last sync never  due now",
  };
  auto at = std::find(lines.begin(), lines.end(), "## Channels");
  ASSERT_NE(at, lines.end());
  EXPECT_EQ(std::vector<std::string>(at, at + 4), expected);

  const auto json = status_json(s, 100);
  ASSERT_EQ(json["channels"].size(), 3u);
  EXPECT_EQ(json["channels"][0]["owner"], "nvim_1_10");
  EXPECT_EQ(json["channels"][0]["last_result"], "ok");
  EXPECT_EQ(json["channels"][1]["running"], "nvim_2_20");
  EXPECT_FALSE(json["channels"][1].contains("next_due"));
  EXPECT_EQ(json["channels"][2]["next_due"], 0);
}

TEST(ChannelStatus, NoChannelsNoSection) {
  coordinator::Status s;
  s.instance_id = "nvim_1_10";
  const auto lines = render_status(s, 100);
  EXPECT_EQ(std::find(lines.begin(), lines.end(), "## Channels"), lines.end());
  EXPECT_FALSE(status_json(s, 100).contains("channels"));
}

}  // namespace
}  // namespace himalaya::host
