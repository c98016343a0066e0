#include "tests/mail/mail_stack_steps.h"

#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iterator>

#include "coordinator/state_file.h"

namespace himalaya::mail {

using std::chrono::steady_clock;
using testing::wait_until;

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

void expect_nothing_left(const MailServer& server) {
  EXPECT_TRUE(processes_matching(server.mbsyncrc()).empty()) << "mbsync left running";
  EXPECT_TRUE(processes_matching((server.dir() / "dovecot.conf").string()).empty())
      << "dovecot left running";
}

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

void start_steady_fleet(const MailServer& server, Fleet& fleet) {
  ASSERT_TRUE(fleet.start(3, server.mbsyncrc(), options()));
  ASSERT_TRUE(wait_until([&] { return server.sessions().size() >= 2; }, 15s))
      << "the fleet did not sync twice\n"
      << describe(server.sessions());
}

Failover wait_for_other_primary(Fleet& fleet, std::size_t old, steady_clock::time_point event,
                                std::chrono::milliseconds timeout) {
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

void expect_schedule_kept_and_clean(MailServer& server, Fleet& fleet, std::size_t last) {
  expect_on_schedule(server, last, 4);
  EXPECT_TRUE(fleet.primary().has_value()) << "not exactly one primary";
  expect_all_closed_without_overlap(server, fleet);
  fleet.stop();
  server.stop();
  expect_nothing_left(server);
}

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

std::optional<coordinator::State> read_state(const std::filesystem::path& state_file) {
  auto read = coordinator::StateFile(state_file).read();
  if (!read) {
    return std::nullopt;
  }
  return read.value();
}

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

char process_state(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() ? stat[paren + 2] : '?';
}

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

}  // namespace himalaya::mail
