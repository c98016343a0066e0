// The host's side of push (SPEC §10): it runs the watcher process
// (himalaya-coord-push, push/main.cpp) while this instance is the primary and
// push is not off, and turns its lines (push_wire.h) into a push sync, a
// warning, a log line or the `## Push` status.
//
// What it promises:
// - start() spawns the watcher at once (a new primary connects within
//   milliseconds); stop() closes its stdin, and the watcher logs out and
//   exits by itself; nothing it printed after stop() reaches the hooks.
// - A watcher that exits with its last status off had nothing to watch:
//   the status keeps saying why, and it is not started again until the next
//   start(). One that exits otherwise (a crash, a kill) is started again
//   with back-off (1 s doubling to 5 min), so a watcher bug costs push, not
//   the coordinator.
// - A watcher that cannot be started at all (the binary missing) is off,
//   with one warning when `enabled = true`.
// - check() runs the watcher in check mode for checkhealth and answers once.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "coordinator/clock.h"
#include "host/config.h"
#include "host/push_state.h"

namespace himalaya::host {

class LineChild;

class PushProcess {
 public:
  struct Options {
    std::string program;  // the watcher binary: default_program() unless a test says
    std::vector<std::string> command;
    PushConfig push;
    double first_restart = 1;  // seconds; doubles up to max_restart
    double max_restart = 300;
    double check_timeout = 25;  // seconds for check()
  };
  struct Hooks {
    // account and mailbox: where the change was ("" when the watcher did not
    // say: then it may be anywhere it watches).
    std::function<void(const std::string& account, const std::string& mailbox)> mail_changed;
    std::function<void(const std::string&)> warn;
    std::function<void(const std::string&)> log;
  };

  PushProcess(boost::asio::io_context& io, Options options,
              std::shared_ptr<const coordinator::Clock> clock, Hooks hooks);
  ~PushProcess();
  PushProcess(const PushProcess&) = delete;
  PushProcess& operator=(const PushProcess&) = delete;

  void start();
  void stop(const std::string& why);
  PushStatus status() const;
  void check(std::function<void(nlohmann::json)> done);

  // himalaya-coord-push next to the running host binary.
  static std::string default_program();

 private:
  void spawn_watcher();
  void on_line(const std::string& line);
  void on_exit(int status);
  void warn(const std::string& message);

  boost::asio::io_context& io_;
  Options options_;
  std::shared_ptr<const coordinator::Clock> clock_;
  Hooks hooks_;
  std::shared_ptr<LineChild> child_;
  boost::asio::steady_timer restart_timer_;
  bool started_ = false;
  double restart_delay_ = 0;
  PushStatus status_;
  double status_at_ = 0;  // wall clock when status_ was received (for retry_in)
  std::set<std::string> warned_;
};

}  // namespace himalaya::host
