// The host's side of the desktop session (SPEC §11, away): it runs the
// reader process (himalaya-coord-session, host/session_main.cpp) while this
// instance is the primary, and turns its lines (host/session_wire.h) into
// the `desktop_session` facts and `away_changed` calls.
//
// What it promises:
// - start() spawns the reader at once; stop() closes its stdin and the
//   reader exits by itself; nothing it printed after stop() is heard.
// - `away_changed(away)` is called only with a value other than the last
//   one it was called with (which starts as false). When the reader stops
//   (stop(), or it exits) while it last said away, `away_changed(false)` is
//   called once.
// - A reader that exits while started (a crash, a kill) is started again
//   with back-off (1 s doubling to 5 min; reset once it has read the
//   session), never in a tight loop.
// - A reader that cannot be started at all (the binary missing) is one
//   problem in facts() and one log line, not a crash; it is tried again at
//   the next start().
// - stop() may call away_changed(false) itself (the role changed: the
//   policy hears it at once); start() calls no hook.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

namespace himalaya::host {

class LineChild;

class SessionWatch {
 public:
  struct Options {
    std::string program;                 // the reader binary: default_program() unless a test says
    std::vector<std::string> arguments;  // after argv[0] (tests: --address)
    double first_restart = 1;            // seconds; doubles up to max_restart
    double max_restart = 300;
  };
  struct Hooks {
    std::function<void(bool away)> away_changed;
    std::function<void(const std::string&)> log;
  };
  // What the status shows as `desktop_session`.
  struct Facts {
    std::string session;  // which session is read; empty while none is
    std::string problem;  // why not; "not the primary" while stopped
    bool away = false;
  };

  SessionWatch(boost::asio::io_context& io, Options options, Hooks hooks);
  ~SessionWatch();
  SessionWatch(const SessionWatch&) = delete;
  SessionWatch& operator=(const SessionWatch&) = delete;

  void start();
  void stop(const std::string& why);
  const Facts& facts() const { return facts_; }
  // The child is running (tests).
  bool running() const { return child_ != nullptr; }

  // himalaya-coord-session next to the running host binary.
  static std::string default_program();

 private:
  void spawn_reader();
  void on_line(const std::string& line);
  void on_exit(int status);
  void set_away(bool away);

  boost::asio::io_context& io_;
  Options options_;
  Hooks hooks_;
  std::shared_ptr<LineChild> child_;
  boost::asio::steady_timer restart_timer_;
  bool started_ = false;
  double restart_delay_ = 0;
  Facts facts_;
};

nlohmann::json session_json(const SessionWatch::Facts& facts);

}  // namespace himalaya::host
