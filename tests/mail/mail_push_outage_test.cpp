// Push with the real stack (see push_steps.h) when the server misbehaves: it
// goes away for 10 s and comes back, or it does not offer IDLE at all.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "tests/mail/mail_stack_steps.h"
#include "tests/mail/push_steps.h"

namespace himalaya::mail {
namespace {

using std::chrono::steady_clock;
using testing::wait_until;

constexpr double kArrival = 5.0;

// Dovecot stops for 10 s while 3 Neovims idle (timer at 900 s): the primary
// says "reconnecting" within the 1 minute SPEC §10 gives a dead connection
// (Dovecot closes its sessions on the way down, so it is quick), two messages
// are delivered meanwhile, Dovecot starts again, and the watcher is idling
// again within its back-off (after 10 s of tries its next wait is at most
// ~16 s, plus jitter; 30 s allowed), with one IDLE session. A third delivery
// then brings all three messages within kArrival, and the fleet showed at
// most one warning.
TEST(MailPush, ServerAwayForTenSecondsWatcherReconnectsAndMailArrives) {
  START_SERVER(server);
  Fleet fleet;
  auto primary = start_idling_fleet(server, fleet, 3, push_options());
  ASSERT_TRUE(primary.has_value());
  // The first sync over (the watcher's is then the one open session): a sync
  // cut off by the outage would fail with a warning of its own.
  ASSERT_TRUE(wait_until([&] { return open_sessions(server).size() == 1; }, 10s))
      << describe(server.sessions());

  ASSERT_TRUE(server.stop());
  const auto stopped = steady_clock::now();
  EXPECT_TRUE(
      wait_until([&] { return push_field(fleet, *primary, "state") == "reconnecting"; }, 10s))
      << "push state " << push_field(fleet, *primary, "state") << " with the server down\n"
      << fleet.log_tails();
  const std::string down1 = unique_subject("while down 1");
  const std::string down2 = unique_subject("while down 2");
  server.deliver(down1);
  server.deliver(down2);
  const std::string retry = push_field(fleet, *primary, "retry_in");
  std::printf("server down: push state %s, retry_in %s\n",
              push_field(fleet, *primary, "state").c_str(), retry.c_str());
  // The outage itself (the scenario's length, not a stand-in for a condition).
  std::this_thread::sleep_until(stopped + 10s);

  ASSERT_TRUE(server.restart());
  const auto restarted = steady_clock::now();
  const bool back = wait_until(
      [&] {
        return idle_sessions(server) == 1 && push_field(fleet, *primary, "state") == "idling";
      },
      30s);
  ASSERT_TRUE(back) << "not idling again 30 s after the server came back; state "
                    << push_field(fleet, *primary, "state") << "\n"
                    << imap_titles(server) << fleet.log_tails();
  std::printf("server back: idling again %.3f s later\n", seconds_since(restarted));

  const std::string after = unique_subject("after the outage");
  auto took = deliver_and_wait(server, after, ms(kArrival));
  ASSERT_TRUE(took.has_value()) << "no push sync after the outage\n" << fleet.log_tails();
  EXPECT_TRUE(server.delivered_locally(down1)) << "a message delivered while the server was down";
  EXPECT_TRUE(server.delivered_locally(down2)) << "a message delivered while the server was down";
  EXPECT_TRUE(idle_sessions_stay(server, 1, 1s));

  int warnings = 0;
  std::string notes;
  for (std::size_t i = 0; i < fleet.size(); ++i) {
    warnings += warnings_of(fleet, i);
    notes += notes_of(fleet, i) + "\n";
  }
  std::printf("warnings shown by the fleet over the outage: %d\n%s", warnings,
              warnings > 0 ? notes.c_str() : "");
  EXPECT_LE(warnings, 1) << notes;
}

class NoIdle : public ::testing::TestWithParam<const char*> {};

// A server without IDLE in its capabilities and push `enabled` = the
// parameter, timer at 2 s: the primary's push state is "off" (with a reason),
// no session ever idles, the timer alone syncs (a delivery arrives within an
// interval plus margin, and the logins are one per interval, all logged out:
// no watcher left connected or reconnecting), and the fleet shows no warning
// with 'auto' and at most one with true.
TEST_P(NoIdle, TimerAloneSyncsWithoutWarningSpam) {
  START_SERVER_WITH(server, (ServerOptions{Transport::starttls, false}));
  constexpr double interval = 2;
  FleetOptions o = push_options(interval);
  o.push.enabled = GetParam();
  Fleet fleet;
  ASSERT_TRUE(fleet.start(3, server.mbsyncrc(), o));
  std::optional<std::size_t> primary;
  ASSERT_TRUE(wait_until([&] { return (primary = fleet.primary()).has_value(); }, 10s));
  ASSERT_TRUE(wait_until([&] { return push_field(fleet, *primary, "state") == "off"; }, 15s))
      << "push state " << push_field(fleet, *primary, "state") << "\n"
      << fleet.log_tails();
  std::printf("enabled = %s without IDLE: off (%s)\n", GetParam(),
              push_field(fleet, *primary, "why").c_str());

  const double from = wall_now();
  constexpr double window = 5 * interval;
  auto took = deliver_and_wait(server, unique_subject("no idle"), ms(interval + 3));
  EXPECT_TRUE(took.has_value()) << "the timer did not bring the message\n" << fleet.log_tails();
  EXPECT_TRUE(idle_sessions_stay(server, 0, ms(std::max(0.0, from + window - wall_now()))));
  const auto sessions = server.sessions();
  const auto in_window = std::count_if(sessions.begin(), sessions.end(), [&](const Session& s) {
    return s.login >= from && s.login < from + window;
  });
  EXPECT_NEAR(static_cast<double>(in_window), window / interval, 1.0) << describe(sessions);
  EXPECT_EQ(push_field(fleet, *primary, "state"), "off");
  // Every session ends (no watcher stays connected), and the window's syncs
  // never overlap. (The host's one look at the server's capabilities, before
  // the window, may overlap the first sync: that is allowed.)
  EXPECT_TRUE(wait_until([&] { return open_sessions(server).empty(); }, 10s))
      << describe(server.sessions());
  std::vector<Session> window_sessions;
  for (const Session& s : server.sessions()) {
    if (s.login >= from && s.login < from + window) {
      window_sessions.push_back(s);
    }
  }
  expect_no_overlap(window_sessions);

  int warnings = 0;
  std::string notes;
  for (std::size_t i = 0; i < fleet.size(); ++i) {
    warnings += warnings_of(fleet, i);
    notes += notes_of(fleet, i) + "\n";
  }
  EXPECT_LE(warnings, std::string(GetParam()) == "true" ? 1 : 0) << notes;
}

INSTANTIATE_TEST_SUITE_P(MailPush, NoIdle, ::testing::Values("'auto'", "true"),
                         [](const ::testing::TestParamInfo<const char*>& param_info) {
                           return std::string(param_info.param) == "true" ? "EnabledTrue"
                                                                          : "EnabledAuto";
                         });

}  // namespace
}  // namespace himalaya::mail
