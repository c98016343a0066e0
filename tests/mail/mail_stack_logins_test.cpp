// The mail stack (see mail_stack_steps.h): one IMAP login per interval for
// the whole fleet, whatever the number of Neovims, and new mail within an
// interval.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <string>

#include "coordinator/state.h"
#include "coordinator/state_file.h"
#include "tests/mail/mail_stack_steps.h"

namespace himalaya::mail {
namespace {

using std::chrono::steady_clock;
using testing::wait_until;

// --- 1. Logins equal syncs, whatever the number of instances ----------------

class LoginsEqualSyncs : public ::testing::TestWithParam<int> {};

// Run time: from the first login (the fleet's first sync) for a fixed window of
// 8 intervals, by the log's clock. Logins inside [first, first + window) must
// number window / interval = 8, give or take one. Then a message delivered to
// the server must reach the local Maildir within one interval (+1.5 s margin).
TEST_P(LoginsEqualSyncs, OneLoginPerIntervalAndNewMailArrivesWithinAnInterval) {
  START_SERVER(server);
  const int instances = GetParam();
  Fleet fleet;
  ASSERT_TRUE(fleet.start(instances, server.mbsyncrc(), options()));

  std::vector<Session> sessions;
  ASSERT_TRUE(wait_until(
      [&] {
        sessions = server.sessions();
        return !sessions.empty();
      },
      10s))
      << "no IMAP login within 10 s";
  const double first = sessions.front().login;
  constexpr double intervals = 8;
  constexpr double window = intervals * kInterval;
  ASSERT_TRUE(wait_until([&] { return wall_now() >= first + window; }, ms(window + 5)));
  sessions = server.sessions();
  const auto in_window = std::count_if(sessions.begin(), sessions.end(), [&](const Session& s) {
    return s.login >= first && s.login < first + window;
  });
  std::printf("[ %d instances ] %ld logins in %.1f s (interval %.1f s)\n", instances,
              static_cast<long>(in_window), window, kInterval);
  EXPECT_NEAR(static_cast<double>(in_window), intervals, 1.0) << describe(sessions);
  for (std::size_t i = 1; i < sessions.size(); ++i) {
    EXPECT_GE(sessions[i].login - sessions[i - 1].login, kMinGap)
        << "logins " << i - 1 << " and " << i << " too close\n"
        << describe(sessions);
  }
  EXPECT_TRUE(fleet.primary().has_value()) << "not exactly one primary";

  const std::string subject = "probe " + std::to_string(instances) + " " +
                              std::to_string(static_cast<long long>(wall_now() * 1e6));
  server.deliver(subject);
  const auto delivered = steady_clock::now();
  EXPECT_TRUE(wait_until([&] { return server.delivered_locally(subject); }, ms(kInterval + 1.5)))
      << "the message did not reach " << server.local_inbox() << " within " << kInterval + 1.5
      << " s";
  std::printf("[ %d instances ] new mail local after %.3f s\n", instances,
              seconds_since(delivered));

  expect_all_closed_without_overlap(server, fleet);
  fleet.stop();
  server.stop();
  expect_nothing_left(server);
}

INSTANTIATE_TEST_SUITE_P(MailStack, LoginsEqualSyncs, ::testing::Values(1, 3, 8),
                         [](const ::testing::TestParamInfo<int>& param_info) {
                           return std::to_string(param_info.param) + "Instances";
                         });

}  // namespace
}  // namespace himalaya::mail
