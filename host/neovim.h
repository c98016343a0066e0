// What the host asks of Neovim, as thin calls over an rpc::Session.
//
// Neovim processes the requests of one channel in order, so register() sends
// its requests back to back and the final `_host_ready` call arrives only after
// every command and autocmd exists. Nothing here waits on Neovim: each call
// completes through a callback on the io_context, and failures are logged.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>

#include "rpc/error.h"

namespace spdlog {
class logger;
}
namespace himalaya::rpc {
class Session;
}

namespace himalaya::host {

// Notifications the host's autocmds and Lua functions send to it.
namespace method {
inline constexpr const char* status = "status";  // [token]
inline constexpr const char* ping = "ping";      // [token]
inline constexpr const char* echo = "echo";      // request: returns its params
inline constexpr const char* sync_now = "sync_now";
inline constexpr const char* vim_leave_pre = "vim_leave_pre";
inline constexpr const char* vim_suspend = "vim_suspend";
inline constexpr const char* vim_resume = "vim_resume";
inline constexpr const char* focus_gained = "focus_gained";
}  // namespace method

// The Lua functions the host calls with nvim_exec_lua, in
// require('himalaya_coord') (lua/himalaya_coord/init.lua).
namespace lua_fn {
inline constexpr const char* host_ready = "_host_ready";  // (channel, version)
inline constexpr const char* deliver = "_deliver";        // (token, value)
inline constexpr const char* notify = "_notify";          // (message, level name)
inline constexpr const char* event = "_event";            // (event name, data)
inline constexpr const char* sync_state = "_sync_state";  // (state): statusline()'s cache
}  // namespace lua_fn

// The `User` autocmds of SPEC §9, fired through lua_fn::event.
namespace event {
inline constexpr const char* sync_started = "HimalayaSyncStarted";
inline constexpr const char* sync_done = "HimalayaSyncDone";
inline constexpr const char* role_changed = "HimalayaRoleChanged";
}  // namespace event

enum class Level { debug, info, warn, error };

class Neovim {
 public:
  Neovim(std::shared_ptr<rpc::Session> session, std::shared_ptr<spdlog::logger> log);

  // Learns this channel's id, announces the client, registers
  // :HimalayaSyncStatus, :HimalayaSyncNow and the `himalaya_coord` augroup
  // (replacing any earlier definitions), then tells the Lua side it is ready.
  // `done` gets nullptr on success.
  void register_host(std::function<void(const rpc::Error*)> done);

  // Answers a bounded-wait Lua request: require('himalaya_coord')._deliver(token, value).
  void deliver(std::int64_t token, const nlohmann::json& value);

  // Shows a message through vim.notify via require('himalaya_coord')._notify.
  void notify_user(const std::string& message, Level level);

  // Fires `User <name>` with `data` in Neovim (lua_fn::event), and feeds
  // statusline()'s cache (lua_fn::sync_state). Neither waits for Neovim.
  void fire_event(const char* name, const nlohmann::json& data);
  void send_sync_state(const nlohmann::json& state);

  std::int64_t channel() const { return channel_; }

 private:
  void call_lua(const char* function, const nlohmann::json& args);
  void register_definitions(std::function<void(const rpc::Error*)> done);

  std::shared_ptr<rpc::Session> session_;
  std::shared_ptr<spdlog::logger> log_;
  std::int64_t channel_ = 0;
};

}  // namespace himalaya::host
