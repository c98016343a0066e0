// Push with the real stack (see push_steps.h): one IDLE connection for the
// whole fleet, new mail within seconds with the timer at 900 s, and IMAP
// logins over a quiet period of 1 for the watcher plus the timer's syncs.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <string>

#include "tests/mail/mail_stack_steps.h"
#include "tests/mail/push_steps.h"

namespace himalaya::mail {
namespace {

using testing::wait_until;

// The bound on delivery-to-local-Maildir here: generous for a loaded 2-core
// machine (the tight figures are bench/push_latency.sh's job). With the timer
// at 900 s, anything within it came by push.
constexpr double kArrival = 5.0;

class OneWatcher : public ::testing::TestWithParam<int> {};

// With N Neovims and push on: exactly one session in IDLE on the server for
// 3 s of watching, the primary idling and every secondary "off (not the
// primary)"; then a delivery reaches the local Maildir within 5 s; then still
// exactly one IDLE session, and no warning anywhere.
TEST_P(OneWatcher, OneIdleSessionForTheFleetAndMailArrivesByPush) {
  START_SERVER(server);
  const int instances = GetParam();
  Fleet fleet;
  auto primary = start_idling_fleet(server, fleet, instances, push_options());
  ASSERT_TRUE(primary.has_value());

  EXPECT_TRUE(idle_sessions_stay(server, 1, 3s));
  for (std::size_t i = 0; i < fleet.size(); ++i) {
    if (i == *primary) {
      EXPECT_EQ(push_field(fleet, i, "state"), "idling");
      EXPECT_EQ(push_field(fleet, i, "server"),
                server.host() + ":" + std::to_string(server.port()));
      EXPECT_EQ(push_field(fleet, i, "mailboxes"), "INBOX");
    } else {
      EXPECT_EQ(push_field(fleet, i, "state"), "off") << "instance " << i;
      EXPECT_EQ(push_field(fleet, i, "why"), "not the primary") << "instance " << i;
    }
  }

  const std::string subject = unique_subject("push " + std::to_string(instances));
  auto took = deliver_and_wait(server, subject, ms(kArrival));
  ASSERT_TRUE(took.has_value()) << "the message did not reach " << server.local_inbox()
                                << " within " << kArrival << " s\n"
                                << fleet.log_tails();
  std::printf("[ %d instances ] delivery to local Maildir: %.3f s\n", instances, *took);
  EXPECT_TRUE(
      wait_until([&] { return push_field(fleet, *primary, "last_event_age") != "absent"; }, 5s))
      << "the primary's status has no last_event_age after a push";

  EXPECT_TRUE(idle_sessions_stay(server, 1, 1s));
  for (std::size_t i = 0; i < fleet.size(); ++i) {
    EXPECT_EQ(warnings_of(fleet, i), 0) << "instance " << i << ":\n" << notes_of(fleet, i);
  }
  fleet.stop();
  EXPECT_TRUE(wait_until([&] { return idle_sessions(server) == 0; }, 5s))
      << "the watcher's session outlived the fleet:\n"
      << imap_titles(server);
  server.stop();
  expect_nothing_left(server);
}

INSTANTIATE_TEST_SUITE_P(MailPush, OneWatcher, ::testing::Values(3, 8),
                         [](const ::testing::TestParamInfo<int>& param_info) {
                           return std::to_string(param_info.param) + "Instances";
                         });

// A quiet period with push on and the timer at 5 s, 3 Neovims: over 15 s the
// server sees the watcher log in once (its session is the only one still
// open, the whole time) and mbsync log in once per interval (3, give or take
// one), not once per Neovim and not once per heartbeat.
TEST(MailPush, QuietPeriodLoginsAreOneWatcherPlusTheTimersSyncs) {
  START_SERVER(server);
  constexpr double interval = 5;
  constexpr double window = 15;
  Fleet fleet;
  auto primary = start_idling_fleet(server, fleet, 3, push_options(interval));
  ASSERT_TRUE(primary.has_value());

  const double from = wall_now();
  ASSERT_TRUE(wait_until([&] { return wall_now() >= from + window; }, ms(window + 5)));
  // A timer sync at the window's end may still be logged in: until it is
  // over, the watcher's is not the one open session.
  EXPECT_TRUE(wait_until([&] { return open_sessions(server).size() == 1; }, 5s))
      << describe(server.sessions());
  const auto sessions = server.sessions();
  const auto open = open_sessions(server);
  const auto syncs = std::count_if(sessions.begin(), sessions.end(), [&](const Session& s) {
    return s.login >= from && s.login < from + window && s.logout.has_value();
  });
  const auto logins = std::count_if(sessions.begin(), sessions.end(),
                                    [&](const Session& s) { return s.login < from + window; });
  std::printf(
      "quiet %.0f s, interval %.0f s, 3 instances: %ld logins in all, %ld syncs in the "
      "window, %zu session(s) still open\n",
      window, interval, static_cast<long>(logins), static_cast<long>(syncs), open.size());
  ASSERT_EQ(open.size(), 1u) << "the watcher should be the one open session\n"
                             << describe(sessions);
  EXPECT_LT(open.front().login, from) << "the watcher logged in again during the quiet period";
  EXPECT_NEAR(static_cast<double>(syncs), window / interval, 1.0) << describe(sessions);
  // Before the window: the first sync (startup_delay) and the watcher's login.
  const auto before = std::count_if(sessions.begin(), sessions.end(),
                                    [&](const Session& s) { return s.login < from; });
  EXPECT_LE(before, 3) << describe(sessions);
  EXPECT_EQ(idle_sessions(server), 1) << imap_titles(server);
  for (std::size_t i = 0; i < fleet.size(); ++i) {
    EXPECT_EQ(warnings_of(fleet, i), 0) << "instance " << i << ":\n" << notes_of(fleet, i);
  }
}

}  // namespace
}  // namespace himalaya::mail
