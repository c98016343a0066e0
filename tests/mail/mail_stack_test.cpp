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
#include "tests/mail/mail_fixture.h"

namespace himalaya::mail {
namespace {

using std::chrono::steady_clock;
using testing::wait_until;

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

// Skips only when Dovecot is not installed; a Dovecot that does not start
// has already failed the test (MailServer's constructor).
#define START_SERVER(server)                \
  MailServer server;                        \
  if ((server).absent())                    \
    GTEST_SKIP() << (server).start_error(); \
  ASSERT_TRUE((server).running()) << (server).start_error()

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
// that none overlapped. On a failure it shows the evidence: each open
// session's lines in Dovecot's log, the processes and TCP connections of the
// stack at that moment, and the hosts' logs.
void expect_all_closed_without_overlap(const MailServer& server, const Fleet& fleet) {
  std::vector<Session> sessions;
  const bool closed = wait_until(
      [&] {
        sessions = server.sessions();
        return std::all_of(sessions.begin(), sessions.end(),
                           [](const Session& s) { return s.logout.has_value(); });
      },
      15s);
  if (!closed) {
    std::string open;
    for (const Session& s : sessions) {
      if (!s.logout) {
        open += "  the log of open session " + s.id + ":\n" + server.log_lines_of(s);
      }
    }
    ADD_FAILURE() << "an IMAP session stayed open\n"
                  << describe(sessions) << open << server.snapshot() << fleet.log_tails(40);
  }
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

// --- Shared steps of the failover tests --------------------------------------

// Starts 3 instances and waits until the fleet has synced twice.
void start_steady_fleet(const MailServer& server, Fleet& fleet) {
  ASSERT_TRUE(fleet.start(3, server.mbsyncrc(), options()));
  ASSERT_TRUE(wait_until([&] { return server.sessions().size() >= 2; }, 15s))
      << "the fleet did not sync twice\n"
      << describe(server.sessions());
}

struct Failover {
  std::optional<std::size_t> primary;  // the instance that reports itself primary
  double seconds = 0;                  // since the event, as the test saw it
};

// Waits until an instance other than `old` reports itself primary.
Failover wait_for_other_primary(Fleet& fleet, std::size_t old, steady_clock::time_point event,
                                std::chrono::milliseconds timeout = 5s) {
  Failover f;
  wait_until(
      [&] {
        for (std::size_t i = 0; i < fleet.size(); ++i) {
          if (i != old && fleet.alive(i) && fleet.role(i) == "Primary Coordinator") {
            f.primary = i;
            return true;
          }
        }
        return false;
      },
      timeout);
  f.seconds = seconds_since(event);
  return f;
}

// The end of every failover test: from login `last` on, the next 4 logins
// keep to the schedule; exactly one primary; no two IMAP sessions overlapped;
// and once the fleet and the server are stopped, nothing of them is left.
void expect_schedule_kept_and_clean(MailServer& server, Fleet& fleet, std::size_t last) {
  expect_on_schedule(server, last, 4);
  EXPECT_TRUE(fleet.primary().has_value()) << "not exactly one primary";
  expect_all_closed_without_overlap(server, fleet);
  fleet.stop();
  server.stop();
  expect_nothing_left(server);
}

// Right after a scheduled login (its mbsync may still run), `end` ends the
// primary Neovim. Another instance must be primary within `limit` seconds
// (printed), the old Neovim and its host must be gone, and the schedule kept.
void expect_failover_when_primary_ends(const char* what,
                                       const std::function<void(testing::NvimProcess&)>& end,
                                       double limit) {
  START_SERVER(server);
  Fleet fleet;
  ASSERT_NO_FATAL_FAILURE(start_steady_fleet(server, fleet));
  auto last = wait_new_login(server, server.sessions().size(), ms(kMaxGap + 5));
  ASSERT_TRUE(last.has_value()) << "no scheduled login";
  auto old_primary = fleet.primary();
  ASSERT_TRUE(old_primary.has_value()) << "not exactly one primary";

  const auto event = steady_clock::now();
  end(fleet.nvim(*old_primary));
  Failover f = wait_for_other_primary(fleet, *old_primary, event);
  std::printf("new primary after %s: %.3f s\n", what, f.seconds);
  EXPECT_TRUE(f.primary.has_value()) << "no other instance became primary";
  EXPECT_LE(f.seconds, limit);
  ASSERT_TRUE(fleet.nvim(*old_primary).wait_exit(5s)) << "nvim did not exit after " << what;
  fleet.mark_gone(*old_primary);
  EXPECT_TRUE(wait_until([&] { return testing::process_gone(fleet.host_pid(*old_primary)); }, 5s))
      << "the old primary's host did not exit";
  expect_schedule_kept_and_clean(server, fleet, *last);
}

// The mbsync processes running for this server: its config path is on their
// command line (the hosts' command lines hold it too, so match argv[0]).
std::vector<pid_t> mbsync_processes(const MailServer& server) {
  std::vector<pid_t> out;
  for (pid_t pid : processes_matching(server.mbsyncrc())) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline");
    std::string argv0;
    std::getline(in, argv0, '\0');
    if (std::filesystem::path(argv0).filename() == "mbsync") {
      out.push_back(pid);
    }
  }
  return out;
}

// The state file as it is now, read like a host reads it (nothing if it is
// missing, unreadable or corrupt).
std::optional<coordinator::State> read_state(const std::filesystem::path& state_file) {
  auto read = coordinator::StateFile(state_file).read();
  if (!read) {
    return std::nullopt;
  }
  return read.value();
}

// Holds the state file's lock, as every host does around a read-modify-write,
// so that the test changes the file between two host updates, not inside one.
class StateLock {
 public:
  explicit StateLock(const std::filesystem::path& state_file) {
    std::filesystem::path lock = state_file;
    lock += ".lock";
    fd_ = ::open(lock.c_str(), O_RDWR | O_CLOEXEC);
    EXPECT_GE(fd_, 0) << "cannot open " << lock;
    EXPECT_EQ(fd_ >= 0 ? ::flock(fd_, LOCK_EX) : -1, 0) << "cannot lock " << lock;
  }
  ~StateLock() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  StateLock(const StateLock&) = delete;
  StateLock& operator=(const StateLock&) = delete;

 private:
  int fd_ = -1;
};

// True when process `pid` holds a flock(2) on `path` (from /proc/locks).
bool holds_flock(pid_t pid, const std::filesystem::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return false;
  }
  std::ifstream in("/proc/locks");
  std::string line;
  const std::string inode = ":" + std::to_string(st.st_ino) + " ";
  const std::string owner = " " + std::to_string(pid) + " ";
  while (std::getline(in, line)) {
    if (line.find("FLOCK") != std::string::npos && line.find(owner) != std::string::npos &&
        line.find(inode) != std::string::npos) {
      return true;
    }
  }
  return false;
}

// The state letter of a process (field 3 of /proc/<pid>/stat): 'T' when
// stopped; '?' if there is none.
char process_state(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() ? stat[paren + 2] : '?';
}

// How many live instances report each role.
std::map<std::string, int> roles(Fleet& fleet) {
  std::map<std::string, int> count;
  for (std::size_t i = 0; i < fleet.size(); ++i) {
    if (fleet.alive(i)) {
      ++count[fleet.role(i)];
    }
  }
  return count;
}

std::string describe(const std::map<std::string, int>& roles) {
  std::string out;
  for (const auto& [role, n] : roles) {
    out += role + " x" + std::to_string(n) + "; ";
  }
  return out;
}

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

// --- 5. The state file deleted, corrupted, made unwritable ---------------------

// While 3 instances run, the state file is deleted (between two host updates).
// No host crashes (each still answers), the next heartbeat rebuilds the file
// with one primary, and syncing goes on on the same schedule.
TEST(MailStack, DeletedStateFileIsRebuiltAndSyncingGoesOn) {
  START_SERVER(server);
  Fleet fleet;
  ASSERT_NO_FATAL_FAILURE(start_steady_fleet(server, fleet));
  auto last = wait_new_login(server, server.sessions().size(), ms(kMaxGap + 5));
  ASSERT_TRUE(last.has_value()) << "no scheduled login";
  const auto deleted = steady_clock::now();
  {
    StateLock lock(fleet.state_file());
    ASSERT_TRUE(std::filesystem::remove(fleet.state_file()));
  }
  std::optional<coordinator::State> state;
  EXPECT_TRUE(wait_until(
      [&] {
        state = read_state(fleet.state_file());
        return state && state->primary && state->instances.size() == 3;
      },
      3s))
      << "the state file was not rebuilt";
  std::printf("state file rebuilt after %.3f s\n", seconds_since(deleted));
  EXPECT_GT(state ? state->last_sync_time : 0, 0) << "the rebuilt file lost the schedule";
  EXPECT_TRUE(fleet.primary().has_value()) << "not exactly one primary: " << describe(roles(fleet));
  expect_schedule_kept_and_clean(server, fleet, *last);
}

// While 3 instances run, the state file is overwritten with garbage (between
// two host updates). No host crashes, the corrupt file is moved aside as
// sync_coordinator.json.corrupt-<time>, a valid file with one primary takes
// its place, and syncing goes on on the same schedule.
TEST(MailStack, CorruptStateFileIsMovedAsideAndRebuiltAndSyncingGoesOn) {
  START_SERVER(server);
  Fleet fleet;
  ASSERT_NO_FATAL_FAILURE(start_steady_fleet(server, fleet));
  auto last = wait_new_login(server, server.sessions().size(), ms(kMaxGap + 5));
  ASSERT_TRUE(last.has_value()) << "no scheduled login";
  const std::string garbage = "{\"primary\": {\"instance_id\": 42, ";
  const auto corrupted = steady_clock::now();
  {
    StateLock lock(fleet.state_file());
    std::ofstream out(fleet.state_file(), std::ios::trunc);
    out << garbage;
  }
  const std::filesystem::path dir = fleet.state_file().parent_path();
  std::optional<std::filesystem::path> aside;
  EXPECT_TRUE(wait_until(
      [&] {
        std::error_code ec;
        for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
          if (entry.path().filename().string().rfind("sync_coordinator.json.corrupt-", 0) == 0) {
            aside = entry.path();
          }
        }
        auto s = read_state(fleet.state_file());
        return aside && s && s->primary;
      },
      3s))
      << "no .corrupt-<time> file, or no valid state file after it";
  std::printf("corrupt state file moved aside and rebuilt after %.3f s\n",
              seconds_since(corrupted));
  if (aside) {
    std::ifstream in(*aside);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(text, garbage) << "the file moved aside is not the corrupt one";
  }
  EXPECT_TRUE(fleet.primary().has_value()) << "not exactly one primary: " << describe(roles(fleet));
  expect_schedule_kept_and_clean(server, fleet, *last);
}

// Makes a directory read-only for everyone, root included: `mount --bind D D`
// then `mount -o remount,bind,ro D`, done with mount(2); the destructor
// unmounts it. The hosts open files in it for writing all the time (the
// lock file, O_RDWR, for every update), so the kernel answers EBUSY until it
// finds a moment with none open: both steps are retried, for up to 5 and 2 s.
class ReadOnlyDirectory {
 public:
  explicit ReadOnlyDirectory(std::filesystem::path dir) : dir_(std::move(dir)) {}
  ~ReadOnlyDirectory() { undo(); }
  ReadOnlyDirectory(const ReadOnlyDirectory&) = delete;
  ReadOnlyDirectory& operator=(const ReadOnlyDirectory&) = delete;

  // Binds the directory onto itself; false (errno set) if this is not allowed.
  bool bind() {
    mounted_ = ::mount(dir_.c_str(), dir_.c_str(), nullptr, MS_BIND, nullptr) == 0;
    return mounted_;
  }
  // Makes the bind mount read-only; "" or the error.
  std::string make_read_only() {
    int error = 0;
    wait_until(
        [&] {
          const bool done = ::mount(nullptr, dir_.c_str(), nullptr,
                                    MS_REMOUNT | MS_BIND | MS_RDONLY, nullptr) == 0;
          error = done ? 0 : errno;  // a retry that succeeds clears an earlier EBUSY
          return done;
        },
        5s);
    return error == 0 ? std::string() : std::string(std::strerror(error));
  }
  // Unmounts; a lazy unmount if it stays busy. True once it is gone.
  bool undo() {
    if (!mounted_) {
      return true;
    }
    if (!wait_until([&] { return ::umount2(dir_.c_str(), 0) == 0; }, 2s)) {
      ::umount2(dir_.c_str(), MNT_DETACH);
    }
    mounted_ = false;
    return true;
  }

 private:
  std::filesystem::path dir_;
  bool mounted_ = false;
};

// While 3 instances run, the state file's directory becomes read-only (a
// read-only bind mount: root ignores file modes). No host crashes (each still
// answers), every instance turns Uncoordinated (SPEC §5: the file cannot be
// used) and syncing goes on on the instances' own timers, without two syncs
// at once (the sync lock lives elsewhere). Once the directory is writable
// again, coordination resumes with exactly one primary, and syncing goes on.
TEST(MailStack, UnwritableStateDirectoryGivesUncoordinatedSyncingThenCoordinationResumes) {
  START_SERVER(server);
  Fleet fleet;
  ASSERT_NO_FATAL_FAILURE(start_steady_fleet(server, fleet));
  ASSERT_TRUE(fleet.primary().has_value());
  ReadOnlyDirectory read_only(fleet.state_file().parent_path());
  if (!read_only.bind()) {
    GTEST_SKIP() << "cannot bind-mount here (not root?): " << std::strerror(errno);
  }
  const std::string error = read_only.make_read_only();
  ASSERT_EQ(error, "") << "cannot remount the bind mount read-only";
  const auto made_read_only = steady_clock::now();
  std::map<std::string, int> seen;
  EXPECT_TRUE(wait_until(
      [&] {
        seen = roles(fleet);
        return seen["Uncoordinated"] == 3;
      },
      5s))
      << "not every instance is Uncoordinated: " << describe(seen);
  std::printf("all Uncoordinated %.3f s after the directory became read-only\n",
              seconds_since(made_read_only));
  // Syncing goes on: two more logins within two intervals (and margins).
  const std::size_t known = server.sessions().size();
  EXPECT_TRUE(
      wait_until([&] { return server.sessions().size() >= known + 2; }, ms(2 * kMaxGap + 2)))
      << "syncing stopped while uncoordinated\n"
      << describe(server.sessions());
  seen = roles(fleet);
  EXPECT_EQ(seen["Uncoordinated"], 3) << describe(seen);

  read_only.undo();
  const auto writable = steady_clock::now();
  EXPECT_TRUE(wait_until(
      [&] {
        seen = roles(fleet);
        return seen["Primary Coordinator"] == 1 && seen["Secondary"] == 2;
      },
      5s))
      << "coordination did not resume: " << describe(seen);
  std::printf("coordination resumed %.3f s after the directory became writable\n",
              seconds_since(writable));
  const std::size_t after = server.sessions().size();
  EXPECT_TRUE(
      wait_until([&] { return server.sessions().size() >= after + 2; }, ms(2 * kMaxGap + 2)))
      << "syncing stopped after coordination resumed\n"
      << describe(server.sessions());
  EXPECT_TRUE(fleet.primary().has_value()) << "not exactly one primary: " << describe(roles(fleet));
  expect_all_closed_without_overlap(server, fleet);
  fleet.stop();
  server.stop();
  expect_nothing_left(server);
}

// --- 6. :qa in the primary while mbsync runs ----------------------------------

// Enough mail that the next sync takes a while: kBulkMessages of kBulkBytes.
constexpr int kBulkMessages = 120;
constexpr std::size_t kBulkBytes = 64 * 1024;

// While the primary's mbsync is busy with a large sync, :qa in the primary
// Neovim. Its host ends the sync (SIGTERM to mbsync's group), and only then
// hands over: when the state file first names another primary, the old
// primary's mbsync is already gone and no sync of it is recorded as running.
// No mbsync of the old primary is left, and the new primary's syncs do not
// overlap the cancelled one.
TEST(MailStack, QuitInPrimaryWhileMbsyncRunsEndsTheSyncThenHandsOver) {
  START_SERVER(server);
  Fleet fleet;
  ASSERT_NO_FATAL_FAILURE(start_steady_fleet(server, fleet));
  auto old_primary = fleet.primary();
  ASSERT_TRUE(old_primary.has_value()) << "not exactly one primary";
  const std::string old_id =
      fleet.nvim(*old_primary).lua_string("return require('himalaya_coord').instance_id()");
  const pid_t old_host = fleet.host_pid(*old_primary);
  // Between two syncs: deliver the bulk, then wait for the sync that takes it.
  ASSERT_TRUE(wait_until(
      [&] {
        auto s = read_state(fleet.state_file());
        return s && !s->running_sync;
      },
      ms(kMaxGap + 5)));
  server.deliver_many(kBulkMessages, kBulkBytes);
  const std::size_t known = server.sessions().size();
  ASSERT_TRUE(wait_new_login(server, known, ms(kMaxGap + 5)).has_value()) << "no sync started";
  // mbsync runs (children of the old primary's host).
  std::vector<pid_t> mbsync;
  ASSERT_TRUE(wait_until(
      [&] {
        mbsync = mbsync_processes(server);
        return !mbsync.empty();
      },
      2s));
  auto in_sync = read_state(fleet.state_file());
  ASSERT_TRUE(in_sync && in_sync->running_sync && in_sync->running_sync->instance_id == old_id)
      << "the sync running is not the primary's";

  const auto quit = steady_clock::now();
  fleet.nvim(*old_primary).command_no_wait("qa");
  // Watch the file closely: at the first state naming another primary, the
  // old primary's sync must be over, its process gone.
  std::optional<coordinator::State> handed;
  bool mbsync_gone_at_handover = false;
  EXPECT_TRUE(wait_until(
      [&] {
        auto s = read_state(fleet.state_file());
        if (!s || !s->primary || s->primary->instance_id == old_id) {
          return false;
        }
        mbsync_gone_at_handover = std::all_of(mbsync.begin(), mbsync.end(),
                                              [](pid_t p) { return testing::process_gone(p); });
        handed = s;
        return true;
      },
      5s))
      << "no handover";
  const double handover = seconds_since(quit);
  std::printf("handover %.3f s after :qa during a sync\n", handover);
  EXPECT_LE(handover, 1.5);
  EXPECT_TRUE(mbsync_gone_at_handover) << "handed over while the old primary's mbsync still ran";
  if (handed) {
    EXPECT_FALSE(handed->running_sync && handed->running_sync->instance_id == old_id)
        << "handed over while its sync was recorded as running";
    ASSERT_TRUE(handed->last_result.has_value());
    EXPECT_EQ(handed->last_result->instance_id, old_id);
    std::printf("the interrupted sync ended as: %s (%s)\n",
                coordinator::to_string(handed->last_result->outcome),
                handed->last_result->message.c_str());
  }
  ASSERT_TRUE(fleet.nvim(*old_primary).wait_exit(5s)) << "nvim did not exit on :qa";
  fleet.mark_gone(*old_primary);
  EXPECT_TRUE(wait_until([&] { return testing::process_gone(old_host); }, 5s))
      << "the old primary's host did not exit";
  for (pid_t pid : mbsync) {
    EXPECT_TRUE(testing::process_gone(pid)) << "mbsync " << pid << " was left running";
  }
  {
    auto sessions = server.sessions();
    ASSERT_GT(sessions.size(), known);
    std::printf("the interrupted sync's IMAP session: %s\n", sessions[known].end.c_str());
  }

  // The new primary syncs on (it takes the rest of the bulk), one at a time.
  const std::size_t after = server.sessions().size();
  EXPECT_TRUE(
      wait_until([&] { return server.sessions().size() >= after + 2; }, ms(2 * kMaxGap + 10)))
      << "syncing stopped after the handover\n"
      << describe(server.sessions());
  EXPECT_TRUE(fleet.primary().has_value()) << "not exactly one primary";
  expect_all_closed_without_overlap(server, fleet);
  fleet.stop();
  server.stop();
  expect_nothing_left(server);
}

}  // namespace
}  // namespace himalaya::mail
