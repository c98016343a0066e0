// The mail stack (see mail_stack_steps.h): the primary ends (:qa, SIGKILL of
// its Neovim or of its host alone, SIGSTOP mid-sync) and another instance
// takes over without an extra or a missed sync and without overlap.
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

// --- 2. :qa in the primary ---------------------------------------------------

// Right after a scheduled login, :qa in the primary Neovim. Another instance
// must be primary within 1 s of the :qa, and the next 4 logins must keep to the
// schedule (no extra sync for the handover, none missed).
TEST(MailStack, QuitInPrimaryHandsOverWithinASecondWithoutExtraLogin) {
  expect_failover_when_primary_ends(
      ":qa", [](testing::NvimProcess& nvim) { nvim.command_no_wait("qa"); }, 1.0);
}

// --- 3. SIGKILL of the primary ----------------------------------------------

// Right after a scheduled login (its mbsync may still run), SIGKILL the primary
// Neovim. A new primary must follow within takeover_threshold + 1 s (printed),
// the next 4 logins keep to the schedule, and no two IMAP sessions overlap.
TEST(MailStack, SigkillOfPrimaryKeepsScheduleWithoutOverlap) {
  expect_failover_when_primary_ends(
      "SIGKILL", [](testing::NvimProcess& nvim) { nvim.kill(SIGKILL); },
      options().takeover_threshold + 1.0);
}

// --- 3b. SIGKILL of the primary's host alone ----------------------------------

// Right after a scheduled login (its mbsync may still run), SIGKILL the
// primary's host process; its Neovim stays and the Lua side restarts the host.
// Another instance must be primary within takeover_threshold + 1 s (printed;
// the secondaries watch the primary's host with a pidfd, so it takes
// milliseconds), the restarted host must answer as a secondary, the killed
// host's mbsync must not outlive it (PR_SET_PDEATHSIG), the next 4 logins keep
// to the schedule, and no two IMAP sessions overlap.
TEST(MailStack, SigkillOfPrimaryHostAloneKeepsScheduleWithoutOverlap) {
  START_SERVER(server);
  Fleet fleet;
  ASSERT_NO_FATAL_FAILURE(start_steady_fleet(server, fleet));
  auto last = wait_new_login(server, server.sessions().size(), ms(kMaxGap + 5));
  ASSERT_TRUE(last.has_value()) << "no scheduled login";
  auto old_primary = fleet.primary();
  ASSERT_TRUE(old_primary.has_value()) << "not exactly one primary";
  const pid_t old_host = fleet.host_pid(*old_primary);
  const std::vector<pid_t> mbsync_before = mbsync_processes(server);

  const auto killed = steady_clock::now();
  ASSERT_EQ(::kill(old_host, SIGKILL), 0);
  Failover f = wait_for_other_primary(fleet, *old_primary, killed);
  std::printf("new primary after SIGKILL of the primary's host: %.3f s\n", f.seconds);
  EXPECT_TRUE(f.primary.has_value()) << "no other instance became primary";
  EXPECT_LE(f.seconds, options().takeover_threshold + 1.0);
  EXPECT_TRUE(wait_until([&] { return testing::process_gone(old_host); }, 5s));
  for (pid_t pid : mbsync_before) {
    EXPECT_TRUE(wait_until([&] { return testing::process_gone(pid); }, 5s))
        << "mbsync " << pid << " outlived its host";
  }

  // The Lua side restarts the host (after 200 ms); it joins as a secondary.
  const pid_t new_host = fleet.refresh_host_pid(*old_primary, 10s);
  ASSERT_GT(new_host, 0) << "the host was not restarted";
  EXPECT_NE(new_host, old_host);
  std::printf("host restarted after %.3f s\n", seconds_since(killed));
  std::string role;
  EXPECT_TRUE(wait_until(
      [&] {
        role = fleet.role(*old_primary);
        return role == "Secondary";
      },
      3s))
      << "the restarted host is " << role;

  expect_schedule_kept_and_clean(server, fleet, *last);
}

// --- 4. SIGSTOP of the primary in the middle of a sync ------------------------

// The primary's Neovim and host are stopped (SIGSTOP) for 2.5 s, well past
// takeover_threshold, while a sync of theirs runs: right after the sync
// started (as soon as the host recorded the sync process, at most 50 ms after
// the start), before the host could record its end. The sync process (its own
// process group) runs on, exits and stays unreaped. Another instance must take
// over within takeover_threshold + 1 s, and must sync on schedule: the
// running sync is over once its process has exited, not when the frozen host
// records it. After SIGCONT there must be exactly one primary within 3 s, and
// the 4 logins after the frozen sync's keep to the schedule (the continued
// primary starts no sync of its own).
//
// A stop that lands while the host holds the state file's lock (each write
// holds it for its fsync; milliseconds, tens of them on a loaded disk) is
// another scenario: nobody can write the file then, and SPEC §5 makes
// everyone Uncoordinated until the lock is free. Such a stop is undone at once
// and made again once the host has let go of the lock (/proc/locks).
TEST(MailStack, SigstopOfPrimaryMidSyncGivesOneTakeoverAndKeepsTheSchedule) {
  START_SERVER(server);
  Fleet fleet;
  ASSERT_NO_FATAL_FAILURE(start_steady_fleet(server, fleet));
  auto old_primary = fleet.primary();
  ASSERT_TRUE(old_primary.has_value()) << "not exactly one primary";
  const pid_t nvim_pid = fleet.nvim(*old_primary).pid();
  const pid_t host_pid = fleet.host_pid(*old_primary);
  const std::string old_id =
      fleet.nvim(*old_primary).lua_string("return require('himalaya_coord').instance_id()");
  std::filesystem::path lock_file = fleet.state_file();
  lock_file += ".lock";
  // Whatever happens, nothing stays stopped after the test (a stopped host
  // would not see its channel close).
  struct ContinueOnExit {
    std::vector<pid_t> pids;
    ~ContinueOnExit() {
      for (pid_t pid : pids) {
        ::kill(pid, SIGCONT);
      }
    }
  } continue_on_exit{{nvim_pid, host_pid}};

  std::optional<std::size_t> frozen_login;
  steady_clock::time_point stopped;
  for (int attempt = 1; attempt <= 3 && !frozen_login; ++attempt) {
    // Wait for the end of the current sync, then for the start of the next.
    ASSERT_TRUE(wait_until(
        [&] {
          auto s = read_state(fleet.state_file());
          return s && !s->running_sync;
        },
        ms(kMaxGap + 5)));
    const std::size_t known = server.sessions().size();
    std::optional<coordinator::State> state;
    ASSERT_TRUE(wait_until(
        [&] {
          state = read_state(fleet.state_file());
          return state && state->running_sync;
        },
        ms(kMaxGap + 5)))
        << "no sync started";
    const auto started = steady_clock::now();
    ASSERT_EQ(state->running_sync->instance_id, old_id) << "the sync is not the primary's";
    wait_until(
        [&] {
          state = read_state(fleet.state_file());
          return state && state->running_sync && state->running_sync->sync_pid > 0;
        },
        50ms);
    // Stop both processes (the host runs in its own session). If the host is
    // inside a state file update, continue it, wait until it has let go of
    // the lock, and stop it again, as long as the end of the sync is not
    // recorded.
    bool end_recorded = false;
    bool in_lock = true;
    int stops = 0;
    while (in_lock && !end_recorded && stops < 50) {
      ++stops;
      wait_until([&] { return !holds_flock(host_pid, lock_file); }, 200ms);
      stopped = steady_clock::now();
      ASSERT_EQ(::kill(host_pid, SIGSTOP), 0);
      ASSERT_EQ(::kill(nvim_pid, SIGSTOP), 0);
      ASSERT_TRUE(wait_until([&] { return process_state(host_pid) == 'T'; }, 1s))
          << "the host did not stop";
      state = read_state(fleet.state_file());
      end_recorded = !state || !state->running_sync;
      in_lock = holds_flock(host_pid, lock_file);
      if (end_recorded || in_lock) {
        ::kill(nvim_pid, SIGCONT);
        ::kill(host_pid, SIGCONT);
      }
    }
    std::printf("attempt %d: stopped %.0f ms after the sync started (%d stop(s)); end %s\n",
                attempt, std::chrono::duration<double, std::milli>(stopped - started).count(),
                stops, end_recorded ? "already recorded: next sync" : "not recorded");
    if (end_recorded || in_lock) {
      continue;
    }
    // The frozen sync's own login (mbsync runs on while its host is stopped).
    frozen_login = wait_new_login(server, known, 5s);
    ASSERT_TRUE(frozen_login.has_value()) << "the frozen primary's mbsync never logged in\n"
                                          << describe(server.sessions());
  }
  ASSERT_TRUE(frozen_login.has_value()) << "could not stop the primary in the middle of a sync";

  Failover f = wait_for_other_primary(fleet, *old_primary, stopped);
  std::printf("takeover after SIGSTOP: %.3f s\n", f.seconds);
  EXPECT_TRUE(f.primary.has_value())
      << "no other instance took over; roles: " << describe(roles(fleet));
  EXPECT_GE(f.seconds, options().takeover_threshold - options().heartbeat_interval - 0.05);
  EXPECT_LE(f.seconds, options().takeover_threshold + 1.0);

  // The next sync is on schedule although the stopped host never recorded the
  // end of its own: its sync was settled as over, with an unknown outcome.
  auto next = wait_new_login(server, *frozen_login + 1, ms(kMaxGap + 5));
  ASSERT_TRUE(next.has_value()) << "no sync after the frozen one\n" << describe(server.sessions());
  {
    auto sessions = server.sessions();
    const double gap = sessions[*frozen_login + 1].login - sessions[*frozen_login].login;
    std::printf("next login %.3f s after the frozen sync's (interval %.1f s)\n", gap, kInterval);
    EXPECT_LE(gap, kMaxGap) << "the frozen primary's sync delayed the next one\n"
                            << describe(sessions);
  }

  bool settled_as_unknown = false;
  for (std::size_t i = 0; i < fleet.size(); ++i) {
    settled_as_unknown = settled_as_unknown ||
                         (i != *old_primary &&
                          fleet.log_tail(i, 400).find("considered over: outcome unknown: the sync "
                                                      "process exited") != std::string::npos);
  }
  EXPECT_TRUE(settled_as_unknown) << "no instance recorded the frozen sync as over";

  // Stay stopped for 2.5 s in all (a fixed duration: the scenario itself).
  wait_until([&] { return seconds_since(stopped) >= 2.5; }, 5s);
  ASSERT_EQ(::kill(nvim_pid, SIGCONT), 0);
  ASSERT_EQ(::kill(host_pid, SIGCONT), 0);
  const auto continued = steady_clock::now();
  EXPECT_TRUE(wait_until([&] { return fleet.primary().has_value(); }, 3s))
      << "not exactly one primary after SIGCONT";
  std::printf("one primary %.3f s after SIGCONT\n", seconds_since(continued));

  expect_schedule_kept_and_clean(server, fleet, *frozen_login);
}

}  // namespace
}  // namespace himalaya::mail
