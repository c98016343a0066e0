#include "tests/mail/push_steps.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <sstream>
#include <thread>

#include "tests/mail/mail_stack_steps.h"

namespace himalaya::mail {
namespace {

using testing::lua_quote;
using testing::wait_until;

// The text of a /proc file, or "" once its process is gone. (An ifstream
// throws when the process exits during the read: read(2) fails with ESRCH.)
std::string read_proc(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return {};
  }
  std::string out;
  char buf[4096];
  ssize_t n = 0;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) {
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return n < 0 ? std::string() : out;
}

// The pid in the server's run/master.pid, or -1 while it is not running.
long master_pid(const MailServer& server) {
  std::ifstream in(server.dir() / "run/master.pid");
  long pid = -1;
  if (!(in >> pid)) {
    return -1;
  }
  return pid;
}

struct ImapProcess {
  long pid = 0;
  std::string title;
};

// The master's `dovecot/imap` children.
std::vector<ImapProcess> imap_processes(const MailServer& server) {
  std::vector<ImapProcess> out;
  const long master = master_pid(server);
  if (master <= 0) {
    return out;
  }
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) {
      continue;
    }
    // Field 4 of /proc/PID/stat, after the ")" that ends the command name.
    const std::string text = read_proc(entry.path() / "stat");
    const std::size_t close = text.rfind(')');
    if (close == std::string::npos) {
      continue;
    }
    std::istringstream fields(text.substr(close + 1));
    std::string state;
    long ppid = 0;
    if (!(fields >> state >> ppid) || ppid != master) {
      continue;
    }
    const std::string title = read_proc(entry.path() / "cmdline");
    if (title.rfind("dovecot/imap ", 0) == 0) {
      out.push_back({std::stol(name), title.substr(0, title.find('\0'))});
    }
  }
  return out;
}

// True when a title says the session runs IDLE: "dovecot/imap [alice
// 127.0.0.1 IDLE]" on 2.3; 2.4 documents the same command states, and may
// add more words after the command, so IDLE may also be followed by a space.
bool in_idle(const std::string& title) {
  const std::size_t open = title.find('[');
  for (std::size_t at = title.find(" IDLE", open);
       at != std::string::npos && open != std::string::npos; at = title.find(" IDLE", at + 1)) {
    const std::size_t after = at + 5;
    if (after < title.size() && (title[after] == ']' || title[after] == ' ')) {
      return true;
    }
  }
  return false;
}

}  // namespace

FleetOptions push_options(double interval) {
  FleetOptions o = options();
  o.interval = interval;
  o.push.enabled = "true";
  o.push.mailboxes = {"INBOX"};
  o.push.min_gap = 0.5;
  return o;
}

std::vector<long> idle_session_pids(const MailServer& server) {
  std::vector<long> out;
  for (const ImapProcess& p : imap_processes(server)) {
    if (in_idle(p.title)) {
      out.push_back(p.pid);
    }
  }
  return out;
}

int idle_sessions(const MailServer& server) {
  return static_cast<int>(idle_session_pids(server).size());
}

std::string imap_titles(const MailServer& server) {
  std::string out;
  for (const ImapProcess& p : imap_processes(server)) {
    out += "    " + std::to_string(p.pid) + " " + p.title + "\n";
  }
  return out.empty() ? "    (no IMAP session)\n" : out;
}

bool idle_sessions_stay(const MailServer& server, int count, std::chrono::milliseconds period) {
  const auto end = std::chrono::steady_clock::now() + period;
  while (std::chrono::steady_clock::now() < end) {
    const int now = idle_sessions(server);
    if (now != count) {
      ADD_FAILURE() << now << " IDLE sessions, expected " << count << ":\n" << imap_titles(server);
      return false;
    }
    // An observation window, not a wait for a condition: look again soon.
    std::this_thread::sleep_for(50ms);
  }
  return true;
}

std::string push_field(Fleet& fleet, std::size_t i, const std::string& key) {
  return fleet.nvim(i).lua_string(
      "local s, err = require('himalaya_coord').status(2000) "
      "if not s then return 'error: ' .. tostring(err) end "
      "if type(s.push) ~= 'table' then return 'error: no push in the status' end "
      "local v = s.push[" +
          lua_quote(key) +
          "] "
          "if v == nil then return 'absent' end "
          "if type(v) == 'table' then return table.concat(v, ',') end "
          "return tostring(v)",
      5s);
}

bool wait_idling(Fleet& fleet, std::size_t i, std::chrono::milliseconds timeout) {
  return wait_until([&] { return push_field(fleet, i, "state") == "idling"; }, timeout);
}

std::string notes_of(Fleet& fleet, std::size_t i) {
  return fleet.nvim(i).lua_string(
      "local out = {} "
      "for _, n in ipairs(_G.notes or {}) do "
      "  table.insert(out, '[' .. tostring(n.level) .. '] ' .. n.msg) "
      "end "
      "return table.concat(out, '\\n')");
}

int warnings_of(Fleet& fleet, std::size_t i) {
  return static_cast<int>(fleet.nvim(i).lua_int(
      "local n = 0 "
      "for _, note in ipairs(_G.notes or {}) do "
      "  if (note.level or vim.log.levels.INFO) >= vim.log.levels.WARN then n = n + 1 end "
      "end "
      "return n"));
}

std::string unique_subject(const std::string& prefix) {
  return prefix + " " + std::to_string(static_cast<long long>(wall_now() * 1e6));
}

std::optional<double> deliver_and_wait(const MailServer& server, const std::string& subject,
                                       std::chrono::milliseconds timeout) {
  server.deliver(subject);
  const auto delivered = std::chrono::steady_clock::now();
  if (!wait_until([&] { return server.delivered_locally(subject); }, timeout)) {
    return std::nullopt;
  }
  return seconds_since(delivered);
}

std::vector<Session> open_sessions(const MailServer& server) {
  std::vector<Session> out;
  for (const Session& s : server.sessions()) {
    if (!s.logout) {
      out.push_back(s);
    }
  }
  return out;
}

std::optional<std::size_t> start_idling_fleet(const MailServer& server, Fleet& fleet, int count,
                                              const FleetOptions& options) {
  if (!fleet.start(count, server.mbsyncrc(), options)) {
    ADD_FAILURE() << "the fleet did not start\n" << fleet.log_tails();
    return std::nullopt;
  }
  std::optional<std::size_t> primary;
  if (!wait_until([&] { return (primary = fleet.primary()).has_value(); }, 10s)) {
    ADD_FAILURE() << "not exactly one primary within 10 s\n" << fleet.log_tails();
    return std::nullopt;
  }
  if (!wait_idling(fleet, *primary, 15s)) {
    ADD_FAILURE() << "the primary's push state is " << push_field(fleet, *primary, "state")
                  << " (why: " << push_field(fleet, *primary, "why") << "), not idling, 15 s on\n"
                  << fleet.log_tails();
    return std::nullopt;
  }
  if (!wait_until([&] { return idle_sessions(server) == 1; }, 5s)) {
    ADD_FAILURE() << "the primary says idling, but the server has " << idle_sessions(server)
                  << " sessions in IDLE:\n"
                  << imap_titles(server);
    return std::nullopt;
  }
  return primary;
}

}  // namespace himalaya::mail
