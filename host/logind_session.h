// The desktop session's idleness for "away" (SPEC §11): logind's IdleHint and
// LockedHint, read over D-Bus from org.freedesktop.login1 on the system bus.
//
// Which session: the one this process runs in (Manager.GetSessionByPID), and
// when there is none (a terminal started by the desktop's user manager runs
// outside any session, as do most processes of a systemd-based desktop), the
// user's display session (Manager.GetUser(uid) -> User.Display), the one
// logind itself picks as the user's graphical session. source() says which.
//
// How it follows them: the session's PropertiesChanged signals (logind emits
// them for both hints), and a re-read every `reread` seconds for hints that
// change without a signal (a text session's IdleHint comes from its tty's
// access time, computed when read).
//
// What it promises:
// - Nothing blocks the io_context: the bus's descriptor waits in Asio (for
//   reading and writing, as sd-bus asks) and sd-bus's own timeout is an Asio
//   timer; every call is asynchronous. The bus is the system bus unless
//   Options::address names another (sd-bus honours DBUS_SYSTEM_BUS_ADDRESS
//   for the system bus too).
// - `changed(away)` is called on each change of away() (true when the session
//   is idle or locked), never with the value it had, and never from start()
//   or the destructor, always from a handler of the io_context.
// - No system bus, no logind, no session for this user, a reply that makes no
//   sense, or the bus closing: away() is false from then on, problem() says
//   why, and `log` hears it once. logind leaving the bus is a problem until it
//   comes back, when the session is found again (logind keeps its sessions
//   over a restart). The bus closing is final. Nothing here throws or aborts
//   on what the bus sends.
// - Messages name the session and the D-Bus error, never anything secret
//   (there is nothing secret here).
//
// Threading: one io_context, one thread, like the rest of the host.
#pragma once

#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <map>
#include <memory>
#include <string>

struct sd_bus;
struct sd_bus_message;
struct sd_bus_slot;

namespace himalaya::host {

class LogindSession {
 public:
  struct Options {
    std::string address;                 // a D-Bus address ("unix:path=..."); empty: the system bus
    pid_t pid = 0;                       // whose session; 0: this process
    uid_t uid = static_cast<uid_t>(-1);  // whose display session; -1: this process's user
    double reread = 30;                  // seconds between two reads of the hints
  };
  struct Hooks {
    std::function<void(bool away)> changed;
    std::function<void(const std::string&)> log;
    // source() or problem() may have changed (posted, like `changed`; also
    // when they did not: each time the hints are read or a problem is met).
    std::function<void()> facts_changed;
  };

  LogindSession(boost::asio::io_context& io, Options options, Hooks hooks);
  ~LogindSession();
  LogindSession(const LogindSession&) = delete;
  LogindSession& operator=(const LogindSession&) = delete;

  // Connects and starts looking for the session; returns at once. Once only.
  void start();

  // The session is idle or locked (false until read, and after a problem).
  bool away() const { return away_; }
  // Why the hints are not read (empty while they are, or before start()).
  const std::string& problem() const { return problem_; }
  // The session read, e.g. "session 3 (this process's)" or "session 2 (the
  // user's display session)"; empty until the hints are first read.
  const std::string& source() const { return source_; }

 private:
  struct Call;
  using Reply = std::function<void(sd_bus_message* reply, const char* error)>;

  void connect();
  // The session: this process's (find_session), else the user's display
  // session (find_display_session, read_display_session).
  void find_session();
  void find_display_session();
  void read_display_session(const std::string& user_path);
  void found_session(const std::string& path, const std::string& how);
  void read_hints();
  void apply_hints(sd_bus_message* dict);
  void set_away(bool away);
  void post_hook(std::function<void()> hook);
  void fail(const std::string& why);
  void logind_owner_changed(bool present);

  // A method call to logind, appended to by `append` (null: no arguments);
  // `reply` runs with the reply, or with the error's text. False when it
  // could not be sent (then fail() has said why).
  bool call(const char* path, const char* interface, const char* member,
            const std::function<int(sd_bus_message*)>& append, Reply reply);
  // The Asio side of sd-bus: process until idle, then wait for what it asks.
  void pump();
  void arm();
  void close_bus();

  // sd-bus's handlers, in the .cpp (sd_bus_error cannot be declared here).
  struct Handlers;
  friend struct Handlers;
  void on_reply(Call* call, sd_bus_message* m);
  void on_properties_changed(sd_bus_message* m);
  void on_owner_changed(sd_bus_message* m);

  boost::asio::io_context& io_;
  Options options_;
  Hooks hooks_;
  sd_bus* bus_ = nullptr;
  boost::asio::posix::stream_descriptor descriptor_;
  boost::asio::steady_timer bus_timer_;
  boost::asio::steady_timer reread_timer_;
  bool reading_ = false;  // an async_wait for readable is pending
  bool writing_ = false;  // an async_wait for writable is pending
  bool started_ = false;
  sd_bus_slot* properties_match_ = nullptr;
  sd_bus_slot* owner_match_ = nullptr;
  std::map<Call*, std::unique_ptr<Call>> calls_;  // the calls awaiting a reply
  std::string session_path_;
  std::string session_how_;
  bool away_ = false;
  bool idle_ = false;
  bool locked_ = false;
  std::string problem_;
  std::string source_;
  // Each lookup of the session has a number; replies to an older one are
  // ignored (logind left and came back while they were on their way).
  unsigned generation_ = 0;
  // Asio handlers hold this weakly: expired once the reader is gone.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace himalaya::host
