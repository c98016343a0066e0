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

  // Fires `User <name>` with `data` in Neovim (lua_fn::event, protocol.h), and feeds
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
