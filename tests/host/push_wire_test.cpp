// The lines between the host and its watcher process: settings and status
// survive the round trip, and malformed ones are refused with a reason.
#include "host/push_wire.h"

#include <gtest/gtest.h>

namespace himalaya::host {
namespace {

TEST(PushWire, SettingsSurviveTheRoundTrip) {
  PushSettings s;
  s.mode = PushSettings::Mode::check;
  s.command = {"mbsync", "-c", "/home/u/rc", "work"};
  s.push.mode = PushMode::on;
  s.push.mbsyncrc = "/home/u/rc";
  s.push.mailboxes = {"INBOX", "Lists"};
  const std::string line = encode_settings(s);
  ASSERT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1) << "one line";
  std::string error;
  auto back = decode_settings(line, error);
  ASSERT_TRUE(back) << error;
  EXPECT_EQ(back->mode, PushSettings::Mode::check);
  EXPECT_EQ(back->command, s.command);
  EXPECT_EQ(back->push.mode, PushMode::on);
  EXPECT_EQ(back->push.mbsyncrc, "/home/u/rc");
  EXPECT_EQ(back->push.mailboxes, s.push.mailboxes);
}

TEST(PushWire, MalformedSettingsAreRefusedWithAReason) {
  std::string error;
  EXPECT_FALSE(decode_settings("not json", error));
  EXPECT_EQ(error, "settings: expected a JSON object");
  EXPECT_FALSE(decode_settings(R"({"mode":"watch","command":[]})", error));
  EXPECT_EQ(error, "settings: command must be a non-empty list of strings");
  EXPECT_FALSE(decode_settings(R"({"mode":"dance","command":["mbsync"]})", error));
  EXPECT_EQ(error, "settings: mode must be \"watch\" or \"check\"");
  EXPECT_FALSE(
      decode_settings(R"({"mode":"watch","command":["x"],"push":{"enabled":"yes"}})", error));
  EXPECT_EQ(error, "settings: push.enabled must be \"auto\", true or false");
  EXPECT_FALSE(decode_settings(R"({"mode":"watch","command":["x"],"push":7})", error));
  EXPECT_EQ(error, "settings: push must be an object");
}

TEST(PushWire, AStatusTravelsWithAnAbsoluteRetryTime) {
  PushStatus s;
  s.state = PushStatus::State::reconnecting;
  s.retry_in = 8;
  s.servers = {"a:993"};
  s.mailboxes = {"INBOX"};
  s.last_event = 500;
  auto back = status_from_wire(status_to_wire(s, 1000), 1003);  // received 3 s later
  ASSERT_TRUE(back);
  EXPECT_EQ(back->state, PushStatus::State::reconnecting);
  EXPECT_DOUBLE_EQ(back->retry_in, 5);
  EXPECT_EQ(back->servers, s.servers);
  EXPECT_EQ(back->mailboxes, s.mailboxes);
  EXPECT_EQ(back->last_event, 500);
}

TEST(PushWire, AStatusThatIsNotOneIsRefused) {
  EXPECT_FALSE(status_from_wire(nlohmann::json::array(), 0));
  EXPECT_FALSE(status_from_wire({{"state", "dancing"}}, 0));
  EXPECT_FALSE(status_from_wire({{"state", "idling"}, {"servers", {1, 2}}}, 0));
  EXPECT_TRUE(status_from_wire({{"state", "off"}, {"why", "x"}}, 0));
}

}  // namespace
}  // namespace himalaya::host
