// The `## Push` section and its JSON facts (SPEC §10), for each state.
#include "host/push_status.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace himalaya::host {
namespace {

using Lines = std::vector<std::string>;

TEST(PushStatusReport, IdlingShowsServerMailboxesAndTheLastEvent) {
  PushStatus s;
  s.state = PushStatus::State::idling;
  s.servers = {"imap.example.org:993"};
  s.mailboxes = {"INBOX", "Lists"};
  s.last_event = 1000;
  EXPECT_EQ(render_push(s, 1003.5),
            (Lines{"", "## Push", "  State: Idling", "  Server: imap.example.org:993",
                   "  Mailboxes: INBOX, Lists", "  Last Event: 3 seconds ago"}));
  nlohmann::json j = push_json(s, 1003.5);
  EXPECT_EQ(j["state"], "idling");
  EXPECT_EQ(j["server"], "imap.example.org:993");
  EXPECT_EQ(j["mailboxes"], (nlohmann::json{"INBOX", "Lists"}));
  EXPECT_DOUBLE_EQ(j["last_event_age"].get<double>(), 3.5);
  EXPECT_FALSE(j.contains("why"));
}

TEST(PushStatusReport, ReconnectingCountsTheSecondsUpAndNeverSaysZero) {
  PushStatus s;
  s.state = PushStatus::State::reconnecting;
  s.retry_in = 0.2;
  s.servers = {"a:143"};
  s.mailboxes = {"INBOX"};
  EXPECT_EQ(render_push(s, 0)[2], "  State: Reconnecting in 1 second");
  s.retry_in = 11.5;
  EXPECT_EQ(render_push(s, 0)[2], "  State: Reconnecting in 12 seconds");
  EXPECT_DOUBLE_EQ(push_json(s, 0)["retry_in"].get<double>(), 11.5);
}

TEST(PushStatusReport, OffSaysWhyAndLeavesOutWhatItDoesNotKnow) {
  PushStatus s;
  s.why = "not the primary";
  EXPECT_EQ(render_push(s, 0),
            (Lines{"", "## Push", "  State: Off (not the primary)", "  Last Event: Never"}));
  nlohmann::json j = push_json(s, 0);
  EXPECT_EQ(j["state"], "off");
  EXPECT_EQ(j["why"], "not the primary");
  EXPECT_FALSE(j.contains("server"));
  EXPECT_FALSE(j.contains("last_event_age"));
}

}  // namespace
}  // namespace himalaya::host
