// The host's wiring: one io_context, the stdio RPC session with Neovim, the
// coordinator, the sync runner, signal handling, and the Neovim-facing
// handlers as thin translations.
//
// Lifetime: App lives on main()'s stack for the whole run. It shuts down when
// the channel closes (`:qa`, Neovim killed: EOF on stdin), on VimLeavePre, or
// on SIGTERM/SIGINT. Shutting down cancels a running sync (SIGTERM, then
// SIGKILL after a short grace), records it, hands the primary role over, and
// stops the io_context, so the process exits well within a second and never
// leaves a sync process behind.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>

#include "host/config.h"

namespace spdlog {
class logger;
}
namespace himalaya::rpc {
class Session;
}
namespace himalaya::coordinator {
class Clock;
class Coordinator;
enum class SyncTrigger;
enum class Role;
}  // namespace himalaya::coordinator

namespace himalaya::host {

class Neovim;
class SyncRunner;
class ChannelRuns;
class NewMailCounter;
class PushProcess;
class SessionWatch;
struct SyncRun;
enum class Level;

class App {
 public:
  App(boost::asio::io_context& io, HostConfig config, std::shared_ptr<spdlog::logger> log);
  ~App();
  App(const App&) = delete;
  App& operator=(const App&) = delete;

  // Starts serving Neovim on stdin/stdout. Returns at once; io.run() drives it.
  void start();

 private:
  // Away (SPEC §11): the desktop session turned idle or locked (true) or
  // active again (false), as SessionWatch reports it (false once when its
  // reader stops: the primary alone reads logind); into this instance's
  // record, whose flag covers every instance on this machine (away.h).
  void session_away(bool away);

  void bind_handlers();
  void start_coordinator();
  void run_sync(coordinator::SyncTrigger trigger);
  void sync_finished(coordinator::SyncTrigger trigger, const SyncRun& run);
  // sync.channels (SPEC §11, app_channels.cpp): a channel of this instance is due.
  void run_channel(const std::string& channel);
  void channel_finished(const std::string& channel, const SyncRun& run);
  // The push watcher saw a change in `mailbox` of `account` (app_channels.cpp).
  void push_changed(const std::string& account, const std::string& mailbox);
  void report_failure(const std::string& message);
  // SPEC §9: User HimalayaRoleChanged when this instance's role label changes.
  void announce_role(coordinator::Role role);
  // SPEC §10: only the primary holds the IDLE connections.
  void follow_role_with_push(coordinator::Role role);
  // SPEC §11 away: only the primary reads the desktop session (its own process).
  void follow_role_with_session(coordinator::Role role);
  void start_push_check(std::int64_t token);
  void fire_event(const char* name, const nlohmann::json& data);
  void tell(Level level, const std::string& message);  // log, and show it in debug mode
  void shutdown(const std::string& why);
  void finish_shutdown();
  nlohmann::json status_value() const;  // SPEC §4: the reply to status()

  boost::asio::io_context& io_;
  HostConfig config_;
  std::shared_ptr<spdlog::logger> log_;
  boost::asio::signal_set signals_;
  std::shared_ptr<rpc::Session> session_;
  std::unique_ptr<Neovim> neovim_;
  std::shared_ptr<const coordinator::Clock> clock_;
  std::unique_ptr<coordinator::Coordinator> coordinator_;
  std::unique_ptr<SyncRunner> runner_;
  std::unique_ptr<ChannelRuns> channel_runs_;  // with sync.channels only
  std::unique_ptr<NewMailCounter> new_mail_;
  std::unique_ptr<NewMailCounter> channel_mail_;  // of the channel sync running, if any
  std::unique_ptr<PushProcess> push_;
  // SPEC §11 away: logind's IdleHint/LockedHint, read by himalaya-coord-session.
  std::unique_ptr<SessionWatch> desktop_;
  bool session_away_ = false;       // the last value session_away() was given
  std::string last_failure_shown_;  // SPEC §6: a repeated failure is shown once
  std::map<std::string, std::string> channel_failure_shown_;  // the same, per channel
  std::string role_shown_ = "Uncoordinated";  // the role the last RoleChanged announced
  bool stopping_ = false;
};

}  // namespace himalaya::host
