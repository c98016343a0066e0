// A real mail stack for end-to-end tests: Dovecot on loopback (started and
// stopped by scripts/mailserver.sh), mbsync as the sync command, and a fleet
// of real headless Neovims that share one state file and one lock file.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <istream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/clock.h"
#include "tests/support/host_setup.h"
#include "tests/support/nvim_fleet.h"
#include "tests/support/nvim_process.h"

namespace himalaya::mail {

using namespace std::chrono_literals;

// One IMAP session of alice, from Dovecot's log. Times are the log's own
// timestamps (microseconds, local time) as seconds since the epoch.
//
// The log does not keep a session's lines in order. imap-login logs "Login"
// only after the imap process has answered its hand-over, and by then the
// imap process already serves the client: a short session can be over, and
// its "Disconnected" line written, before a busy imap-login writes "Login"
// (seen 29 times in 100 mbsync runs with imap-login starved of CPU; a
// 3-9 ms mbsync session on a loaded CI machine did it once). So an end is
// matched to its login by session id whichever comes first, and such a
// session's login is taken as no later than its end.
struct Session {
  std::string id;
  double login = 0;
  std::optional<double> logout;
  std::string end;                 // how it ended, from the log ("Disconnected: Logged out ...")
  bool login_logged_late = false;  // the log has its end before its login
  bool tls = false;                // the login line says the session ran over TLS
};

// The sessions in a Dovecot log (as mailserver.sh configures it), in the order
// of their logins.
std::vector<Session> parse_sessions(std::istream& log);

// How the server takes logins (scripts/mailserver.sh start's options).
enum class Transport {
  starttls,   // the default: STARTTLS on port(), TLS from the start on imaps_port();
              // no login before TLS; the mbsyncrc trusts cert_file()
  plaintext,  // --plaintext: no TLS at all; only a test that asks for TLSType None
};

struct ServerOptions {
  Transport transport = Transport::starttls;
  bool idle = true;  // false (--no-idle): IDLE is not among the capabilities
  // true (--rawlog): every IMAP session writes what the client sent to
  // dir()/rawlog (read with tests/mail/rawlog.h).
  bool rawlog = false;
};

// A private Dovecot with everything in a fresh temporary directory. The
// constructor starts it; the destructor always stops it and removes the
// directory. If Dovecot (or, for TLS, openssl) is not installed, absent() is
// true (a test may skip then, and only then). If it is installed but does
// not start, the constructor records a test failure; either way running() is
// false and start_error() says why.
class MailServer {
 public:
  explicit MailServer(ServerOptions options = {});
  ~MailServer();
  MailServer(const MailServer&) = delete;
  MailServer& operator=(const MailServer&) = delete;

  bool running() const { return running_; }
  bool absent() const { return absent_; }
  const std::string& start_error() const { return start_error_; }
  Transport transport() const { return options_.transport; }
  // The server's address: 127.0.0.2 with TLS (so that Dovecot does not count
  // a client on loopback as secured and lets it log in without TLS), 127.0.0.1
  // without.
  const std::string& host() const { return host_; }
  int port() const { return port_; }
  // TLS from the first byte; 0 without TLS.
  int imaps_port() const { return imaps_port_; }
  // The server's self-signed certificate (made at start); empty without TLS.
  const std::filesystem::path& cert_file() const { return cert_file_; }
  const std::filesystem::path& dir() const { return dir_; }
  const std::string& mbsyncrc() const { return mbsyncrc_; }
  // mbsync's local copy of alice's INBOX.
  std::filesystem::path local_inbox() const { return dir_ / "Mail/INBOX"; }

  // Drops a message with this subject into alice's server-side INBOX.
  void deliver(const std::string& subject) const;
  // Drops `count` messages of about `bytes` each into alice's server-side
  // INBOX at once (written here, not through the script, to be quick).
  void deliver_many(int count, std::size_t bytes) const;
  // True when a message with this subject is in mbsync's local copy of
  // `mailbox` (new/ or cur/).
  bool delivered_locally(const std::string& subject, const std::string& mailbox = "INBOX") const;
  // alice's IMAP sessions, in the order of their logins.
  std::vector<Session> sessions() const;
  // Every line of Dovecot's log that names this session id or the pid of the
  // imap process that served it (for a failing test's message).
  std::string log_lines_of(const Session& session) const;
  // Who holds what right now: the processes of the mail stack and the fleet
  // (ps), and the TCP connections to the server with the process on each end
  // (ss). For a failing test's message.
  std::string snapshot() const;
  // Stops the server (idempotent); true if it stopped cleanly.
  bool stop();
  // Starts a stopped server again with the same configuration, ports,
  // certificate and mail; its log goes on in the same file. True once it
  // accepts connections again (a failure is recorded otherwise).
  bool restart();

 private:
  ServerOptions options_;
  std::filesystem::path dir_;
  std::filesystem::path cert_file_;
  std::string mbsyncrc_;
  std::string host_;
  std::string start_error_;
  int port_ = 0;
  int imaps_port_ = 0;
  bool running_ = false;
  bool absent_ = false;
};

struct FleetOptions {
  double interval = 1.5;
  double sync_cooldown = 1.0;
  double heartbeat_interval = 0.1;
  double takeover_threshold = 0.8;
  double startup_delay = 0.2;
  double timeout = 10;
  // sync.push, always written out: off unless a test turns it on (the
  // plugin's own default, 'auto', would start a watcher in every mail test
  // and change the login counts they assert).
  testing::PushSetup push;
  // sync.channels as a Lua list literal and sync.max_parallel (SPEC §11),
  // written out only when set; with channels the hosts run
  // `mbsync -c MBSYNCRC <channel>` in place of `-a`.
  std::string channels;
  int max_parallel = 0;
};

// Neovims sharing the state file and lock file in one shared directory
// (testing::NvimFleet, which gives the rest: roles, the primary, host pids,
// logs). The sync command is `mbsync -c MBSYNCRC -a`. Each Neovim records its
// vim.notify calls in _G.notes ({msg, level}), from before setup().
class Fleet : public testing::NvimFleet {
 public:
  // Starts `count` Neovims and waits until every host is ready.
  bool start(int count, const std::string& mbsyncrc, const FleetOptions& options);
};

// Declares `server`, a MailServer (with `options`, for START_SERVER_WITH).
// Skips the test only when Dovecot (or openssl) is not installed; a Dovecot
// that does not start has already failed the test (MailServer's constructor).
#define START_SERVER_WITH(server, options)  \
  MailServer server{options};               \
  if ((server).absent())                    \
    GTEST_SKIP() << (server).start_error(); \
  ASSERT_TRUE((server).running()) << (server).start_error()
#define START_SERVER(server) START_SERVER_WITH(server, ServerOptions{})

// Wall-clock seconds since the epoch (the clock of Dovecot's log).
using testing::wall_now;
// Pids of running processes whose command line contains `needle`.
std::vector<pid_t> processes_matching(const std::string& needle);
// A printable list of sessions, relative to the first login.
std::string describe(const std::vector<Session>& sessions);

}  // namespace himalaya::mail
