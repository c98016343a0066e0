// The primary's IMAP IDLE watcher (SPEC §10): one connection per push target
// (account and mailbox, push_plan.h), held only while this instance is the
// primary. A change the server reports becomes Hooks::mail_changed, which the
// host hands to the coordinator (Coordinator::mail_changed: a push sync).
//
// What it promises:
// - start() connects every target at once (a new primary is idling within
//   a round trip or two of taking over); stop() logs out and drops every
//   connection, and nothing it started calls back afterwards.
// - A connection that ends (the server went away, BYE, a reply that did not
//   come, a dead peer noticed by keepalive) is retried with imap::Backoff:
//   jittered, from about 1 s up to 5 min, back to the start once idling
//   again. While retrying, the timer alone syncs, and nothing is shown to
//   the user: only the log says so.
// - After a suspend (boot-time clock ahead of the monotonic one by more than
//   Options::suspend_gap since the last look) every connection is dropped
//   and made again at once: one that slept through a suspend is as good as
//   dead, and a resumed laptop should get its mail now.
// - Terminal for a target, until the next start(): the server does not offer
//   IDLE, or refused the login, or the credentials could not be had. With
//   `enabled = true` each of these, and a configuration that cannot be used,
//   is one warning (Hooks::warn, each message once per host); with 'auto'
//   it is only logged (SPEC §10: "else off without a word").
// - The password reaches the IMAP session only; no message here holds it.
//
// Threading: the io_context's thread only, like the rest of the host.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "coordinator/clock.h"
#include "coordinator/guard.h"
#include "host/config.h"
#include "host/push_state.h"
#include "imap/backoff.h"
#include "imap/session.h"
#include "mbsync/environment.h"

namespace himalaya::push {

using host::PushConfig;
using host::PushMode;
using host::PushStatus;

class PushWatcher {
 public:
  struct Options {
    std::vector<std::string> command;  // sync.command: which mbsync configuration and accounts
    PushConfig push;
    mbsync::Environment env;
    imap::Backoff::Policy backoff;
    std::chrono::milliseconds connect_timeout = std::chrono::seconds(15);
    std::chrono::milliseconds reply_timeout = std::chrono::seconds(30);
    std::chrono::milliseconds idle_refresh = std::chrono::minutes(25);
    double suspend_gap = 2.0;  // seconds
    std::chrono::milliseconds suspend_check = std::chrono::seconds(1);
  };
  struct Hooks {
    // The server reported a change in `mailbox` of the IMAPAccount `account`.
    std::function<void(const std::string& account, const std::string& mailbox)> mail_changed;
    std::function<void(const std::string&)> warn;  // for the user: enabled = true only
    std::function<void(const std::string&)> log;   // for the host log
    std::function<void()> status_changed;          // status() may read differently now
  };

  PushWatcher(boost::asio::io_context& io, Options options,
              std::shared_ptr<const coordinator::Clock> clock, Hooks hooks);
  ~PushWatcher();
  PushWatcher(const PushWatcher&) = delete;
  PushWatcher& operator=(const PushWatcher&) = delete;

  // This instance became the primary. A no-op while started.
  void start();
  // It is not the primary any more, or the host is leaving: `why` is what the
  // status says ("not the primary").
  void stop(const std::string& why);
  PushStatus status() const;

 private:
  struct Link;  // one target's connection, back-off and timer (push_watcher.cpp)

  void connect(Link& link);
  void on_event(Link& link, unsigned generation, const imap::Event& event);
  void on_closed(Link& link, unsigned generation, const std::string& reason);
  void give_up(Link& link, const std::string& why);
  void watch_for_suspend();
  void warn(const std::string& message);
  void changed();

  boost::asio::io_context& io_;
  Options options_;
  std::shared_ptr<const coordinator::Clock> clock_;
  Hooks hooks_;
  coordinator::Guard guard_;  // reset by stop(): nothing of a past start() calls back
  std::vector<std::unique_ptr<Link>> links_;
  bool started_ = false;
  std::string off_why_ = "not the primary";
  std::optional<double> last_event_;
  std::set<std::string> warned_;
  std::mt19937 random_;
  boost::asio::steady_timer suspend_timer_;
  double clock_offset_ = 0;  // boottime - monotonic at the last look
};

}  // namespace himalaya::push
