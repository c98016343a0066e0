// Push with the real stack (see push_steps.h): when the primary's Neovim
// ends (SIGKILL, :qa), the new primary takes over the watching at once: a new
// session in IDLE on the server, the old one gone, and the next delivery
// synced by push.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>

#include "tests/mail/mail_stack_steps.h"
#include "tests/mail/push_steps.h"

namespace himalaya::mail {
namespace {

using std::chrono::steady_clock;
using testing::wait_until;

// SPEC §10: a new primary connects as soon as it takes over; the issue's
// target is idling within 1 s. The bound adds 1 s for a loaded 2-core
// machine (the takeover itself, a TLS handshake, LOGIN, EXAMINE, IDLE); the
// measured figure is printed.
constexpr double kIdlingAgain = 2.0;
constexpr double kArrival = 5.0;

// 3 Neovims idling; `end` ends the primary's Neovim. Then, within
// kIdlingAgain: the server has exactly one session in IDLE and it is not the
// old one (the old primary's session is gone), and another instance is
// primary and says push.state "idling". A delivery after that reaches the
// local Maildir within kArrival, and no instance showed a warning.
void expect_push_failover(const char* what, const std::function<void(testing::NvimProcess&)>& end) {
  START_SERVER(server);
  Fleet fleet;
  auto old_primary = start_idling_fleet(server, fleet, 3, push_options());
  ASSERT_TRUE(old_primary.has_value());
  const std::vector<long> old_idle = idle_session_pids(server);
  ASSERT_EQ(old_idle.size(), 1u) << imap_titles(server);

  const auto event = steady_clock::now();
  end(fleet.nvim(*old_primary));
  std::vector<long> now_idle;
  const bool moved = wait_until(
      [&] {
        now_idle = idle_session_pids(server);
        return now_idle.size() == 1 && now_idle.front() != old_idle.front();
      },
      ms(kIdlingAgain + 3));
  const double server_side = seconds_since(event);
  ASSERT_TRUE(moved) << "after " << what << ", no new lone IDLE session within " << kIdlingAgain + 3
                     << " s:\n"
                     << imap_titles(server) << fleet.log_tails();
  Failover f = wait_for_other_primary(fleet, *old_primary, event);
  ASSERT_TRUE(f.primary.has_value()) << "no other instance became primary";
  EXPECT_EQ(push_field(fleet, *f.primary, "state"), "idling");
  std::printf(
      "after %s: a new IDLE session on the server %.3f s later; new primary seen %.3f s "
      "later\n",
      what, server_side, f.seconds);
  EXPECT_LE(server_side, kIdlingAgain);

  ASSERT_TRUE(fleet.nvim(*old_primary).wait_exit(5s)) << "nvim did not exit after " << what;
  fleet.mark_gone(*old_primary);
  const std::string subject = unique_subject(std::string("after ") + what);
  auto took = deliver_and_wait(server, subject, ms(kArrival));
  ASSERT_TRUE(took.has_value()) << "the message did not reach " << server.local_inbox()
                                << " within " << kArrival << " s after " << what << "\n"
                                << fleet.log_tails();
  std::printf("after %s: delivery to local Maildir %.3f s\n", what, *took);
  EXPECT_TRUE(idle_sessions_stay(server, 1, 1s));
  for (std::size_t i = 0; i < fleet.size(); ++i) {
    if (fleet.alive(i)) {
      EXPECT_EQ(warnings_of(fleet, i), 0) << "instance " << i << ":\n" << notes_of(fleet, i);
    }
  }
  fleet.stop();
  server.stop();
  expect_nothing_left(server);
}

TEST(MailPush, SigkillOfPrimaryMovesTheWatcherAndMailStillArrivesByPush) {
  expect_push_failover("SIGKILL", [](testing::NvimProcess& nvim) { nvim.kill(SIGKILL); });
}

TEST(MailPush, QuitInPrimaryMovesTheWatcherAndMailStillArrivesByPush) {
  expect_push_failover(":qa", [](testing::NvimProcess& nvim) { nvim.command_no_wait("qa"); });
}

}  // namespace
}  // namespace himalaya::mail
