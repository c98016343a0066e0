// End-to-end against a real mail stack: Dovecot on 127.0.0.1 (a fresh server
// per test, scripts/mailserver.sh), `mbsync -c MBSYNCRC -a` as the sync
// command, and fleets of real headless Neovims sharing one state file and one
// lock file (each Neovim with its own XDG directories).
//
// Every sync is one mbsync run, and every mbsync run is exactly one IMAP login
// of alice, so Dovecot's log is an outside witness of how often the fleet
// synced. Its timestamps have microseconds (log_timestamp in mailserver.sh)
// and use the wall clock, like wall_now() here. Each login is one Session,
// paired with its "Disconnected" line, so overlapping syncs would show as
// overlapping sessions.
//
// Durations are scaled: interval 1.5 s, cooldown 0.5 s, heartbeat 0.1 s,
// takeover after 0.8 s, first check 0.2 s after start. With the cooldown at
// a third of the interval, an extra sync (say, one caused by a takeover right
// after a scheduled sync) would come at most ~1 s after the previous one, and
// a sync on schedule ~1.5 s after it: gaps are checked against the midpoint
// (interval - 0.5 s), which leaves 0.5 s either way for login latency.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>

#include "tests/mail/mail_fixture.h"

namespace himalaya::mail {
namespace {

using e2e::wait_until;
using std::chrono::steady_clock;

constexpr double kInterval = 1.5;
constexpr double kCooldown = 0.5;
// The smallest gap between logins that is on schedule (see above).
constexpr double kMinGap = kInterval - 0.5;
// The largest gap that still counts as on schedule, for a loaded machine.
constexpr double kMaxGap = kInterval + 0.75;

FleetOptions options() {
  FleetOptions o;
  o.interval = kInterval;
  o.sync_cooldown = kCooldown;
  o.heartbeat_interval = 0.1;
  o.takeover_threshold = 0.8;
  o.startup_delay = 0.2;
  o.timeout = 10;
  return o;
}

std::chrono::milliseconds ms(double seconds) {
  return std::chrono::milliseconds(static_cast<long long>(seconds * 1000));
}

double seconds_since(steady_clock::time_point start) {
  return std::chrono::duration<double>(steady_clock::now() - start).count();
}

#define START_SERVER(server)                                                    \
  MailServer server;                                                            \
  if (!(server).running() && !(server).start_error().empty() &&                 \
      (server).start_error().find("dovecot cannot start") != std::string::npos) \
    GTEST_SKIP() << "Dovecot cannot start: " << (server).start_error();         \
  ASSERT_TRUE((server).running())

// No two IMAP sessions overlap: each login comes after the previous session
// logged out. (Two mbsync runs at once would log in twice at once.)
void expect_no_overlap(const std::vector<Session>& sessions) {
  for (std::size_t i = 1; i < sessions.size(); ++i) {
    ASSERT_TRUE(sessions[i - 1].logout.has_value())
        << "session " << i - 1 << " still open when session " << i << " logged in\n"
        << describe(sessions);
    EXPECT_GE(sessions[i].login, *sessions[i - 1].logout)
        << "sessions " << i - 1 << " and " << i << " overlap\n"
        << describe(sessions);
  }
}

// Waits until every session has logged out (no sync in flight), then checks
// that none overlapped.
void expect_all_closed_without_overlap(const MailServer& server) {
  std::vector<Session> sessions;
  EXPECT_TRUE(wait_until(
      [&] {
        sessions = server.sessions();
        return std::all_of(sessions.begin(), sessions.end(),
                           [](const Session& s) { return s.logout.has_value(); });
      },
      15s))
      << "an IMAP session stayed open\n"
      << describe(sessions);
  expect_no_overlap(sessions);
}

// After the fleet and the server are stopped: no mbsync run for this server
// and no Dovecot with its config is left.
void expect_nothing_left(const MailServer& server) {
  EXPECT_TRUE(processes_matching(server.mbsyncrc()).empty()) << "mbsync left running";
  EXPECT_TRUE(processes_matching((server.dir() / "dovecot.conf").string()).empty())
      << "dovecot left running";
}

// Waits for a login that is not among the first `known` ones; returns its
// index, or nothing after `timeout`.
std::optional<std::size_t> wait_new_login(const MailServer& server, std::size_t known,
                                          std::chrono::milliseconds timeout) {
  std::vector<Session> sessions;
  if (!wait_until(
          [&] {
            sessions = server.sessions();
            return sessions.size() > known;
          },
          timeout)) {
    return std::nullopt;
  }
  return known;
}

// The schedule after an event: starting at login `from`, the next `count`
// logins each come kMinGap..kMaxGap after the one before. An extra sync would
// make a short gap, a missed one a long gap.
void expect_on_schedule(const MailServer& server, std::size_t from, std::size_t count) {
  std::vector<Session> sessions;
  ASSERT_TRUE(wait_until(
      [&] {
        sessions = server.sessions();
        return sessions.size() >= from + count + 1;
      },
      ms(count * kMaxGap + 5)))
      << "fewer than " << count << " logins after the event\n"
      << describe(sessions);
  for (std::size_t i = from + 1; i <= from + count; ++i) {
    double gap = sessions[i].login - sessions[i - 1].login;
    EXPECT_GE(gap, kMinGap) << "login " << i << " came too early: an extra sync\n"
                            << describe(sessions);
    EXPECT_LE(gap, kMaxGap) << "login " << i << " came too late: the schedule slipped\n"
                            << describe(sessions);
  }
}

// True unless the state file is readable and records no running sync.
bool sync_recorded_running(const std::filesystem::path& state_file) {
  std::ifstream in(state_file);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return text.empty() || text.find("\"running_sync\"") != std::string::npos;
}

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

  expect_all_closed_without_overlap(server);
  fleet.stop();
  server.stop();
  expect_nothing_left(server);
}

INSTANTIATE_TEST_SUITE_P(MailStack, LoginsEqualSyncs, ::testing::Values(1, 3, 8),
                         [](const ::testing::TestParamInfo<int>& param_info) {
                           return std::to_string(param_info.param) + "Instances";
                         });

// --- 2. :qa in the primary ---------------------------------------------------

// Right after a scheduled login, :qa in the primary Neovim. Another instance
// must be primary within 1 s of the :qa, and the next 4 logins must keep to the
// schedule (no extra sync for the handover, none missed).
TEST(MailStack, QuitInPrimaryHandsOverWithinASecondWithoutExtraLogin) {
  START_SERVER(server);
  Fleet fleet;
  ASSERT_TRUE(fleet.start(3, server.mbsyncrc(), options()));
  ASSERT_TRUE(wait_until([&] { return server.sessions().size() >= 2; }, 15s));
  auto last = wait_new_login(server, server.sessions().size(), ms(kMaxGap + 5));
  ASSERT_TRUE(last.has_value()) << "no scheduled login";
  auto old_primary = fleet.primary();
  ASSERT_TRUE(old_primary.has_value()) << "not exactly one primary";

  const auto quit = steady_clock::now();
  fleet.nvim(*old_primary).command_no_wait("qa");
  std::optional<std::size_t> new_primary;
  EXPECT_TRUE(wait_until(
      [&] {
        for (std::size_t i = 0; i < fleet.size(); ++i) {
          if (i != *old_primary && fleet.role(i) == "Primary Coordinator") {
            new_primary = i;
            return true;
          }
        }
        return false;
      },
      5s));
  const double handover = seconds_since(quit);
  std::printf("handover after :qa: %.3f s\n", handover);
  EXPECT_TRUE(new_primary.has_value()) << "no other instance became primary";
  EXPECT_LE(handover, 1.0);
  ASSERT_TRUE(fleet.nvim(*old_primary).wait_exit(5s)) << "nvim did not exit on :qa";
  fleet.mark_gone(*old_primary);
  EXPECT_TRUE(wait_until([&] { return e2e::process_gone(fleet.host_pid(*old_primary)); }, 5s))
      << "the old primary's host did not exit";

  expect_on_schedule(server, *last, 4);
  EXPECT_TRUE(fleet.primary().has_value()) << "not exactly one primary";
  expect_all_closed_without_overlap(server);
  fleet.stop();
  server.stop();
  expect_nothing_left(server);
}

// --- 3. SIGKILL of the primary ----------------------------------------------

// Right after a scheduled login (its mbsync may still run), SIGKILL the primary
// Neovim. A new primary must follow within takeover_threshold + 1 s (printed),
// the next 4 logins keep to the schedule, and no two IMAP sessions overlap.
TEST(MailStack, SigkillOfPrimaryKeepsScheduleWithoutOverlap) {
  START_SERVER(server);
  Fleet fleet;
  ASSERT_TRUE(fleet.start(3, server.mbsyncrc(), options()));
  ASSERT_TRUE(wait_until([&] { return server.sessions().size() >= 2; }, 15s));
  auto old_primary = fleet.primary();
  ASSERT_TRUE(old_primary.has_value()) << "not exactly one primary";
  auto last = wait_new_login(server, server.sessions().size(), ms(kMaxGap + 5));
  ASSERT_TRUE(last.has_value()) << "no scheduled login";

  const auto killed = steady_clock::now();
  fleet.nvim(*old_primary).kill(SIGKILL);
  std::optional<std::size_t> new_primary;
  EXPECT_TRUE(wait_until(
      [&] {
        for (std::size_t i = 0; i < fleet.size(); ++i) {
          if (i != *old_primary && fleet.role(i) == "Primary Coordinator") {
            new_primary = i;
            return true;
          }
        }
        return false;
      },
      5s));
  const double takeover = seconds_since(killed);
  std::printf("new primary after SIGKILL: %.3f s\n", takeover);
  EXPECT_TRUE(new_primary.has_value()) << "no other instance became primary";
  EXPECT_LE(takeover, options().takeover_threshold + 1.0);
  ASSERT_TRUE(fleet.nvim(*old_primary).wait_exit(5s));
  fleet.mark_gone(*old_primary);
  EXPECT_TRUE(wait_until([&] { return e2e::process_gone(fleet.host_pid(*old_primary)); }, 5s))
      << "the killed primary's host did not exit";

  expect_on_schedule(server, *last, 4);
  EXPECT_TRUE(fleet.primary().has_value()) << "not exactly one primary";
  expect_all_closed_without_overlap(server);
  fleet.stop();
  server.stop();
  expect_nothing_left(server);
}

// --- 4. SIGSTOP of the primary past the threshold ------------------------------

// Right after a scheduled login, SIGSTOP the primary's Neovim and its host
// for 2.5 s, well past takeover_threshold. Another
// instance must take over within takeover_threshold + 1 s; after SIGCONT there
// must be exactly one primary within 3 s, and the next 4 logins keep to the
// schedule (the stopped primary, once continued, starts no sync of its own).
TEST(MailStack, SigstopOfPrimaryPastThresholdGivesOneTakeoverAndOnePrimaryAfterSigcont) {
  START_SERVER(server);
  Fleet fleet;
  ASSERT_TRUE(fleet.start(3, server.mbsyncrc(), options()));
  ASSERT_TRUE(wait_until([&] { return server.sessions().size() >= 2; }, 15s));
  auto old_primary = fleet.primary();
  ASSERT_TRUE(old_primary.has_value()) << "not exactly one primary";
  auto last = wait_new_login(server, server.sessions().size(), ms(kMaxGap + 5));
  ASSERT_TRUE(last.has_value()) << "no scheduled login";

  // Stop it while idle: once the hosts have recorded the end of that sync
  // (the state file holds no running_sync). See the report: a primary frozen
  // before it records the end of its sync delays the next one.
  ASSERT_TRUE(wait_until([&] { return !sync_recorded_running(fleet.state_file()); }, 5s))
      << "the sync never ended in the state file";
  // The host runs in its own session, so stop both processes.
  const pid_t nvim_pid = fleet.nvim(*old_primary).pid();
  const pid_t host_pid = fleet.host_pid(*old_primary);
  const auto stopped = steady_clock::now();
  ASSERT_EQ(::kill(host_pid, SIGSTOP), 0);
  ASSERT_EQ(::kill(nvim_pid, SIGSTOP), 0);
  std::optional<std::size_t> new_primary;
  EXPECT_TRUE(wait_until(
      [&] {
        for (std::size_t i = 0; i < fleet.size(); ++i) {
          if (i != *old_primary && fleet.role(i) == "Primary Coordinator") {
            new_primary = i;
            return true;
          }
        }
        return false;
      },
      5s));
  const double takeover = seconds_since(stopped);
  std::printf("takeover after SIGSTOP: %.3f s\n", takeover);
  EXPECT_TRUE(new_primary.has_value()) << "no other instance took over";
  EXPECT_GE(takeover, options().takeover_threshold - options().heartbeat_interval - 0.05);
  EXPECT_LE(takeover, options().takeover_threshold + 1.0);

  // Stay stopped for 2.5 s in all (a fixed duration: the scenario itself).
  wait_until([&] { return seconds_since(stopped) >= 2.5; }, 5s);
  ASSERT_EQ(::kill(nvim_pid, SIGCONT), 0);
  ASSERT_EQ(::kill(host_pid, SIGCONT), 0);
  const auto continued = steady_clock::now();
  EXPECT_TRUE(wait_until([&] { return fleet.primary().has_value(); }, 3s))
      << "not exactly one primary after SIGCONT";
  std::printf("one primary %.3f s after SIGCONT\n", seconds_since(continued));

  expect_on_schedule(server, *last, 4);
  EXPECT_TRUE(fleet.primary().has_value()) << "not exactly one primary";
  expect_all_closed_without_overlap(server);
  fleet.stop();
  server.stop();
  expect_nothing_left(server);
}

}  // namespace
}  // namespace himalaya::mail
