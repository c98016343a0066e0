// Shared steps of the mail stack tests (mail_stack_*_test.cpp).
//
// End-to-end against a real mail stack: Dovecot on loopback over STARTTLS
// (a fresh server per test, scripts/mailserver.sh), `mbsync -c MBSYNCRC -a`
// as the sync command, and fleets of real headless Neovims sharing one state
// file and one lock file (each Neovim with its own XDG directories).
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
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "coordinator/state.h"
#include "tests/mail/mail_fixture.h"

namespace himalaya::mail {

constexpr double kInterval = 1.5;
constexpr double kCooldown = 0.5;
// The smallest gap between logins that is on schedule (see above).
constexpr double kMinGap = kInterval - 0.5;
// The largest gap that still counts as on schedule, for a loaded machine.
constexpr double kMaxGap = kInterval + 0.75;

// The scaled durations of every test here (see the top of this file).
FleetOptions options();

// Seconds as a deadline for wait_until().
std::chrono::milliseconds ms(double seconds);

// Seconds from `start` to now, on the steady clock.
double seconds_since(std::chrono::steady_clock::time_point start);

// No two IMAP sessions overlap: each login comes after the previous session
// logged out. (Two mbsync runs at once would log in twice at once.)
void expect_no_overlap(const std::vector<Session>& sessions);

// Waits until every session has logged out (no sync in flight), then checks
// that none overlapped. On a failure it shows the evidence: each open
// session's lines in Dovecot's log, the processes and TCP connections of the
// stack at that moment, and the hosts' logs.
void expect_all_closed_without_overlap(const MailServer& server, const Fleet& fleet);

// After the fleet and the server are stopped: no mbsync run for this server
// and no Dovecot with its config is left.
void expect_nothing_left(const MailServer& server);

// Waits for a login that is not among the first `known` ones; returns its
// index, or nothing after `timeout`.
std::optional<std::size_t> wait_new_login(const MailServer& server, std::size_t known,
                                          std::chrono::milliseconds timeout);

// The schedule after an event: starting at login `from`, the next `count`
// logins each come kMinGap..kMaxGap after the one before. An extra sync would
// make a short gap, a missed one a long gap.
void expect_on_schedule(const MailServer& server, std::size_t from, std::size_t count);

// Starts 3 instances and waits until the fleet has synced twice.
void start_steady_fleet(const MailServer& server, Fleet& fleet);

struct Failover {
  std::optional<std::size_t> primary;  // the instance that reports itself primary
  double seconds = 0;                  // since the event, as the test saw it
};

// Waits until an instance other than `old` reports itself primary.
Failover wait_for_other_primary(Fleet& fleet, std::size_t old,
                                std::chrono::steady_clock::time_point event,
                                std::chrono::milliseconds timeout = 5s);

// The end of every failover test: from login `last` on, the next 4 logins
// keep to the schedule; exactly one primary; no two IMAP sessions overlapped;
// and once the fleet and the server are stopped, nothing of them is left.
void expect_schedule_kept_and_clean(MailServer& server, Fleet& fleet, std::size_t last);

// Right after a scheduled login (its mbsync may still run), `end` ends the
// primary Neovim. Another instance must be primary within `limit` seconds
// (printed), the old Neovim and its host must be gone, and the schedule kept.
void expect_failover_when_primary_ends(const char* what,
                                       const std::function<void(testing::NvimProcess&)>& end,
                                       double limit);

// The mbsync processes running for this server: its config path is on their
// command line (the hosts' command lines hold it too, so match argv[0]).
std::vector<pid_t> mbsync_processes(const MailServer& server);

// The state file as it is now, read like a host reads it (nothing if it is
// missing, unreadable or corrupt).
std::optional<coordinator::State> read_state(const std::filesystem::path& state_file);

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
bool holds_flock(pid_t pid, const std::filesystem::path& path);

// The state letter of a process (field 3 of /proc/<pid>/stat): 'T' when
// stopped; '?' if there is none.
char process_state(pid_t pid);

// How many live instances report each role.
std::map<std::string, int> roles(Fleet& fleet);

// "role xN; " for each role, for a failing test's message.
std::string describe(const std::map<std::string, int>& roles);

}  // namespace himalaya::mail
