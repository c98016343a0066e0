// Push with sync.channels (SPEC §10 with §11) on the real stack: Dovecot,
// mbsync and three headless Neovims. The primary idles on INBOX and Lists
// (sync.push.mailboxes); a delivery to one of them syncs, by push, only the
// channel that covers it, from that channel's owner, whichever Neovim that
// is. Every channel's timer is at 15 minutes, so a sync within seconds came
// by push; a delivery to Archive, which no watcher covers, waits for it.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/mail/channel_steps.h"
#include "tests/mail/mail_stack_steps.h"
#include "tests/mail/push_steps.h"
#include "tests/support/wait.h"

namespace himalaya::mail {
namespace {

using testing::wait_until;

const std::vector<MailChannel> kChannels{
    {"inbox", "INBOX", 900}, {"lists", "Lists", 900}, {"archive", "Archive", 900}};
// Delivery to the local Maildir: generous for a loaded 2-core machine (the
// timer is at 900 s, so anything within it came by push).
constexpr double kArrival = 5.0;

struct ChannelView {
  double last_sync_time = 0;
  std::string trigger;  // of its last result
  std::string owner;
  bool running = false;
};

std::map<std::string, ChannelView> read_channels(const std::filesystem::path& state_file) {
  std::map<std::string, ChannelView> out;
  std::ifstream in(state_file);
  const auto j = nlohmann::json::parse(in, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("channels")) {
    return out;
  }
  for (const auto& [name, c] : j["channels"].items()) {
    ChannelView v;
    v.last_sync_time = c.value("last_sync_time", 0.0);
    v.owner = c.value("owner", "");
    v.running = c.contains("running");
    if (c.contains("last_result")) {
      v.trigger = c["last_result"].value("trigger", "");
    }
    out[name] = v;
  }
  return out;
}

std::string describe(const std::map<std::string, ChannelView>& channels) {
  std::string text;
  for (const auto& [name, v] : channels) {
    char line[200];
    std::snprintf(line, sizeof line, "  %s: last start %.3f, last trigger %s, owner %s%s\n",
                  name.c_str(), v.last_sync_time, v.trigger.c_str(), v.owner.c_str(),
                  v.running ? ", running" : "");
    text += line;
  }
  return text;
}

// Every channel synced and none running.
bool settled(const std::filesystem::path& state_file) {
  const auto v = read_channels(state_file);
  if (v.size() != kChannels.size()) {
    return false;
  }
  for (const auto& [name, c] : v) {
    if (c.last_sync_time <= 0 || c.running) {
      return false;
    }
  }
  return true;
}

// Delivers to `mailbox` and waits for the message locally; the seconds it
// took, or nothing after kArrival.
std::optional<double> push_to(const MailServer& server, const std::string& mailbox,
                              const std::string& subject) {
  const auto start = std::chrono::steady_clock::now();
  deliver_to(server, mailbox, subject);
  if (!wait_until([&] { return server.delivered_locally(subject, mailbox); }, ms(kArrival))) {
    return std::nullopt;
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

TEST(PushChannels, AChangeInOneMailboxSyncsOnlyTheChannelThatCoversIt) {
  START_SERVER(server);
  make_folders(server, kChannels);
  const auto rc = write_channels_rc(server, kChannels);
  FleetOptions o = push_options(900);
  o.push.mailboxes = {"INBOX", "Lists"};
  o.channels = channels_lua(kChannels);
  Fleet fleet;
  ASSERT_TRUE(fleet.start(3, rc.string(), o)) << fleet.log_tails();
  // Each channel syncs once at the start (it never has), then not for 15
  // minutes; the primary idles on the two watched mailboxes, one session
  // each for the whole fleet.
  ASSERT_TRUE(wait_until([&] { return settled(fleet.state_file()); }, 30s))
      << describe(read_channels(fleet.state_file())) << fleet.log_tails();
  ASSERT_TRUE(wait_until([&] { return idle_sessions(server) == 2; }, 10s))
      << imap_titles(server) << fleet.log_tails();
  EXPECT_TRUE(idle_sessions_stay(server, 2, 1s));

  for (const char* mailbox : {"Lists", "INBOX"}) {
    const auto before = read_channels(fleet.state_file());
    const std::string subject = unique_subject(std::string("push to ") + mailbox);
    const auto took = push_to(server, mailbox, subject);
    ASSERT_TRUE(took.has_value()) << "the message did not reach the local " << mailbox << " within "
                                  << kArrival << " s\n"
                                  << describe(read_channels(fleet.state_file()))
                                  << fleet.log_tails();
    std::printf("[ channels ] delivery to %s, in the local Maildir after %.3f s\n", mailbox, *took);
    ASSERT_TRUE(wait_until([&] { return settled(fleet.state_file()); }, 10s));
    const auto after = read_channels(fleet.state_file());
    for (const MailChannel& c : kChannels) {
      if (c.mailbox == mailbox) {
        EXPECT_GT(after.at(c.name).last_sync_time, before.at(c.name).last_sync_time)
            << describe(after);
        EXPECT_EQ(after.at(c.name).trigger, "push") << describe(after);
      } else {
        EXPECT_EQ(after.at(c.name).last_sync_time, before.at(c.name).last_sync_time)
            << c.name << " synced for a change in " << mailbox << "\n"
            << describe(after);
      }
    }
  }

  // Archive has no watcher: its mail waits for its channel's timer.
  const auto before = read_channels(fleet.state_file());
  const std::string subject = unique_subject("archived");
  deliver_to(server, "Archive", subject);
  EXPECT_FALSE(wait_until([&] { return server.delivered_locally(subject, "Archive"); }, 2s));
  EXPECT_EQ(read_channels(fleet.state_file()).at("archive").last_sync_time,
            before.at("archive").last_sync_time);
  EXPECT_EQ(idle_sessions(server), 2) << imap_titles(server);
  for (std::size_t i = 0; i < fleet.size(); ++i) {
    EXPECT_EQ(warnings_of(fleet, i), 0) << notes_of(fleet, i);
  }
}

}  // namespace
}  // namespace himalaya::mail
