#include "tests/mail/mail_fixture.h"

#include <grp.h>
#include <gtest/gtest.h>
#include <pwd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>

#include "tests/mail/evidence.h"
#include "tests/support/files.h"
#include "tests/support/host_setup.h"

namespace himalaya::mail {
namespace {

using testing::lua_number;
using testing::lua_quote;

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

// Runs a shell command; returns its exit status and its combined output.
int run(const std::string& command, std::string& output) {
  output.clear();
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) {
    output = "popen failed";
    return -1;
  }
  char buf[4096];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) {
    output.append(buf, n);
  }
  int status = ::pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string script(const std::string& action, const std::filesystem::path& dir) {
  return shell_quote(MAILSERVER_SCRIPT) + " " + action + " " + shell_quote(dir.string());
}

// "2026-11-24 17:14:46.653671 ..." (log_timestamp in scripts/mailserver.sh).
std::optional<double> log_time(const std::string& line) {
  std::tm tm{};
  int usecs = 0;
  if (std::sscanf(line.c_str(), "%d-%d-%d %d:%d:%d.%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &usecs) != 7) {
    return std::nullopt;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  tm.tm_isdst = -1;
  return static_cast<double>(std::mktime(&tm)) + usecs / 1e6;
}

// The text between `open` and the next `close` after it, or "".
std::string between(const std::string& line, const std::string& open, char close) {
  std::size_t start = line.find(open);
  if (start == std::string::npos) {
    return {};
  }
  start += open.size();
  std::size_t end = line.find(close, start);
  return end == std::string::npos ? std::string() : line.substr(start, end - start);
}

}  // namespace

MailServer::MailServer(ServerOptions options) : options_(options) {
  dir_ = testing::make_temp_dir("himalaya-mail-");
  std::string command = script("start", dir_);
  if (options_.transport == Transport::plaintext) {
    command += " --plaintext";
  }
  if (!options_.idle) {
    command += " --no-idle";
  }
  if (options_.rawlog) {
    command += " --rawlog";
  }
  std::string output;
  int status = run(command, output);
  if (status == 3) {
    // Dovecot (or openssl, for TLS) is not installed: the only reason a mail
    // test may skip.
    absent_ = true;
    start_error_ = output;
    return;
  }
  if (status == 2) {
    // Installed but refusing to start (a rejected configuration, a listener
    // that never came up): the test fails, with Dovecot's reason.
    ADD_FAILURE() << "Dovecot is installed but does not start:\n" << output;
    start_error_ = output;
    return;
  }
  std::istringstream lines(output);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind("PORT=", 0) == 0) {
      port_ = std::stoi(line.substr(5));
    } else if (line.rfind("IMAPS_PORT=", 0) == 0) {
      imaps_port_ = std::stoi(line.substr(11));
    } else if (line.rfind("HOST=", 0) == 0) {
      host_ = line.substr(5);
    } else if (line.rfind("CERT=", 0) == 0) {
      cert_file_ = line.substr(5);
    } else if (line.rfind("MBSYNCRC=", 0) == 0) {
      mbsyncrc_ = line.substr(9);
    }
  }
  const bool tls_ready =
      options_.transport == Transport::plaintext || (imaps_port_ > 0 && !cert_file_.empty());
  running_ = status == 0 && port_ > 0 && !host_.empty() && !mbsyncrc_.empty() && tls_ready;
  if (!running_) {
    // Not "Dovecot cannot start": the script itself failed. That is a bug.
    ADD_FAILURE() << "mailserver.sh start exited " << status << ":\n" << output;
    start_error_ = output;
  }
}

MailServer::~MailServer() {
  stop();
  if (::testing::Test::HasFailure()) {
    std::fprintf(stderr, "kept the failed test's mail server directory: %s\n", dir_.c_str());
  } else if (std::getenv("HIMALAYA_KEEP_TEST_DIRS") == nullptr) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

bool MailServer::stop() {
  std::string output;
  int status = run(script("stop", dir_), output);
  running_ = false;
  if (status != 0) {
    ADD_FAILURE() << "mailserver.sh stop exited " << status << ":\n" << output;
    return false;
  }
  return true;
}

bool MailServer::restart() {
  std::string output;
  int status = run(script("restart", dir_), output);
  running_ = status == 0;
  if (!running_) {
    ADD_FAILURE() << "mailserver.sh restart exited " << status << ":\n" << output;
  }
  return running_;
}

void MailServer::deliver(const std::string& subject) const {
  std::string output;
  int status = run(script("deliver", dir_) + " " + shell_quote(subject), output);
  ASSERT_EQ(status, 0) << output;
}

void MailServer::deliver_many(int count, std::size_t bytes) const {
  const std::filesystem::path box = dir_ / "mail/alice";
  std::string body;
  // Base64-like lines of 76 characters, as a real attachment would be.
  while (body.size() < bytes) {
    for (int i = 0; i < 76; ++i) {
      body += static_cast<char>('A' + (body.size() * 7 + static_cast<std::size_t>(i)) % 26);
    }
    body += '\n';
  }
  const struct passwd* nobody = ::getpwnam("nobody");  // the server's mail user (mailserver.sh)
  const struct group* nogroup = ::getgrnam("nogroup");
  ASSERT_TRUE(nobody != nullptr && nogroup != nullptr);
  const auto stamp = static_cast<long long>(wall_now() * 1e6);
  for (int n = 0; n < count; ++n) {
    const std::string name = std::to_string(stamp) + "." + std::to_string(n) + ".bulk";
    const std::filesystem::path tmp = box / "tmp" / name;
    {
      std::ofstream out(tmp, std::ios::binary);
      out << "From: Bob <bob@example.org>\nTo: Alice <alice@example.org>\nSubject: bulk " << n
          << "\nMessage-ID: <" << name << "@example.org>\n\n"
          << body;
      ASSERT_TRUE(out.good()) << "cannot write " << tmp;
    }
    ASSERT_EQ(::chown(tmp.c_str(), nobody->pw_uid, nogroup->gr_gid), 0) << "chown " << tmp;
    std::error_code ec;
    std::filesystem::rename(tmp, box / "new" / name, ec);
    ASSERT_FALSE(ec) << ec.message();
  }
}

bool MailServer::delivered_locally(const std::string& subject, const std::string& mailbox) const {
  const std::string header = "Subject: " + subject + "\n";
  for (const char* sub : {"new", "cur"}) {
    std::error_code ec;
    for (const auto& entry :
         std::filesystem::directory_iterator(dir_ / "Mail" / mailbox / sub, ec)) {
      std::ifstream in(entry.path());
      std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      if (text.find(header) != std::string::npos) {
        return true;
      }
    }
  }
  return false;
}

std::vector<Session> MailServer::sessions() const {
  std::ifstream in(dir_ / "dovecot.log");
  return parse_sessions(in);
}

std::vector<Session> parse_sessions(std::istream& log) {
  std::vector<Session> out;
  std::map<std::string, std::size_t> by_id;
  // Ends seen before their session's Login line (see mail_fixture.h).
  std::map<std::string, std::pair<double, std::string>> early_ends;
  std::string line;
  while (std::getline(log, line)) {
    auto time = log_time(line);
    if (!time) {
      continue;
    }
    // "imap-login: Info: Login: user=<alice>, ..." (Dovecot 2.3) or
    // "imap-login: Info: Logged in: user=<alice>, ..." (2.4).
    if (line.find("imap-login: Info: Login: user=<alice>") != std::string::npos ||
        line.find("imap-login: Info: Logged in: user=<alice>") != std::string::npos) {
      Session s;
      s.id = between(line, "session=<", '>');
      s.login = *time;
      // "..., mpid=13234, TLS, session=<...>"; "secured" or nothing without TLS.
      s.tls = line.find(", TLS, session=<") != std::string::npos;
      auto early = early_ends.find(s.id);
      if (early != early_ends.end()) {
        // The imap process served and closed the session before imap-login
        // logged the login: it began no later than it ended.
        s.login = std::min(s.login, early->second.first);
        s.logout = early->second.first;
        s.end = early->second.second;
        s.login_logged_late = true;
        early_ends.erase(early);
      }
      by_id[s.id] = out.size();
      out.push_back(s);
    } else if (line.find(" imap(alice)<") != std::string::npos &&
               (line.find(": Info: Disconnected") != std::string::npos ||
                line.find(": Info: Connection closed") != std::string::npos)) {
      // "imap(alice)<PID><SESSION>: Info: Disconnected: Logged out ...", or,
      // when the client went away without logging out, "... Info: Connection
      // closed: ..." (2.3) or "... Info: Disconnected: Connection closed
      // (...)" (2.4).
      std::string prefix = between(line, " imap(alice)<", ':');
      std::size_t open = prefix.find("><");
      if (open == std::string::npos) {
        continue;
      }
      std::string id = prefix.substr(open + 2);
      if (!id.empty() && id.back() == '>') {
        id.pop_back();
      }
      std::string end = line.substr(line.find(": Info: ") + 8);
      auto it = by_id.find(id);
      if (it != by_id.end()) {
        out[it->second].logout = *time;
        out[it->second].end = end;
      } else {
        early_ends[id] = {*time, end};
      }
    }
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const Session& a, const Session& b) { return a.login < b.login; });
  return out;
}

std::string MailServer::log_lines_of(const Session& session) const {
  std::ifstream in(dir_ / "dovecot.log");
  std::vector<std::string> lines;
  std::vector<std::string> needles{"<" + session.id + ">"};
  std::string line;
  while (std::getline(in, line)) {
    if (line.find(needles.front()) != std::string::npos) {
      // "imap(alice)<PID><SESSION>": the imap process may log more under its pid.
      std::string pid = between(line, "imap(alice)<", '>');
      if (!pid.empty() &&
          std::find(needles.begin(), needles.end(), "<" + pid + ">") == needles.end()) {
        needles.push_back("<" + pid + ">");
      }
    }
    lines.push_back(line);
  }
  std::string out;
  for (const std::string& l : lines) {
    for (const std::string& needle : needles) {
      if (l.find(needle) != std::string::npos) {
        out += "    " + l + "\n";
        break;
      }
    }
  }
  return out;
}

std::string MailServer::snapshot() const {
  return stack_snapshot(port_);
}

bool Fleet::start(int count, const std::string& mbsyncrc, const FleetOptions& o) {
  // HIMALAYA_TEST_HOST_BINARY runs the tests against another build of the
  // host (an older one, to see a regression test fail without its fix).
  const char* other_host = std::getenv("HIMALAYA_TEST_HOST_BINARY");
  const std::string command = "{'mbsync', '-c', " + lua_quote(mbsyncrc) + ", '-a'}";
  auto init_lua = [&](std::size_t i) {
    testing::HostSetup setup = host_setup(i);
    if (other_host != nullptr && *other_host != '\0') {
      setup.binary = other_host;
    }
    setup.auto_sync = true;
    setup.interval = o.interval;
    setup.startup_delay = o.startup_delay;
    setup.command = command;
    setup.timeout = o.timeout;
    setup.heartbeat_interval = o.heartbeat_interval;
    setup.takeover_threshold = o.takeover_threshold;
    setup.sync_cooldown = o.sync_cooldown;
    setup.push = o.push;
    setup.channels = o.channels;
    setup.max_parallel = o.max_parallel;
    return "_G.notes = {}\n"
           "vim.notify = function(msg, level, opts)\n"
           "  table.insert(_G.notes, {msg = tostring(msg), level = level})\n"
           "end\n" +
           testing::setup_lua(setup);
  };
  return NvimFleet::start(count, init_lua, 10s);
}

std::vector<pid_t> processes_matching(const std::string& needle) {
  std::vector<pid_t> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) {
      continue;
    }
    std::ifstream in(entry.path() / "cmdline");
    std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (cmdline.find(needle) != std::string::npos &&
        !testing::process_gone(static_cast<pid_t>(std::stoi(name)))) {
      out.push_back(static_cast<pid_t>(std::stoi(name)));
    }
  }
  return out;
}

std::string describe(const std::vector<Session>& sessions) {
  std::ostringstream out;
  out.setf(std::ios::fixed);
  out.precision(3);
  double origin = sessions.empty() ? 0 : sessions.front().login;
  for (const auto& s : sessions) {
    out << "  login " << (s.login - origin) << " .. ";
    if (s.logout) {
      out << (*s.logout - origin);
    } else {
      out << "(open)";
    }
    out << "  session " << s.id;
    if (s.end.rfind("Disconnected: Logged out", 0) != 0) {
      out << "  [" << s.end << "]";
    }
    if (s.login_logged_late) {
      out << "  (login logged after the logout)";
    }
    out << "\n";
  }
  return out.str();
}

}  // namespace himalaya::mail
