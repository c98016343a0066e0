#include "host/neovim.h"

#include <spdlog/spdlog.h>

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <tuple>

#include "host/msgpack_json.h"
#include "host/protocol.h"
#include "host/version.h"
#include "rpc/session.h"

namespace himalaya::host {
namespace {

constexpr const char* augroup = "himalaya_coord";

// Counts outstanding registration requests and reports once: the first error,
// or success after the last reply.
class Countdown {
 public:
  Countdown(int count, std::function<void(const rpc::Error*)> done)
      : left_(count), done_(std::move(done)) {}
  void finish(const rpc::Error* error) {
    if (!done_) {
      return;
    }
    if (error != nullptr || --left_ == 0) {
      auto done = std::move(done_);
      done_ = nullptr;
      done(error);
    }
  }

 private:
  int left_;
  std::function<void(const rpc::Error*)> done_;
};

// "require('himalaya_coord').<function>(...)", with `return` when the caller
// wants the value.
std::string lua_call(const char* function, bool returns) {
  return std::string(returns ? "return " : "") + "require('himalaya_coord')." + function + "(...)";
}

}  // namespace

Neovim::Neovim(std::shared_ptr<rpc::Session> session, std::shared_ptr<spdlog::logger> log)
    : session_(std::move(session)), log_(std::move(log)) {}

void Neovim::register_host(std::function<void(const rpc::Error*)> done) {
  session_->request(
      "nvim_get_api_info", [this, done = std::move(done)](rpc::Result<rpc::Object> result) mutable {
        if (!result) {
          done(&result.error());
          return;
        }
        try {
          const msgpack::object& info = result.value()->get();
          if (info.type != msgpack::type::ARRAY || info.via.array.size < 1) {
            throw msgpack::type_error();
          }
          channel_ = info.via.array.ptr[0].as<std::int64_t>();
        } catch (const std::exception&) {
          rpc::Error error{rpc::Error::exception, "nvim_get_api_info: unexpected reply"};
          done(&error);
          return;
        }
        register_definitions(std::move(done));
      });
}

void Neovim::register_definitions(std::function<void(const rpc::Error*)> done) {
  using StringMap = std::map<std::string, std::string>;
  const std::string chan = std::to_string(channel_);
  const std::map<std::string, const char*> autocmds{
      {"VimLeavePre", method::vim_leave_pre}, {"VimSuspend", method::vim_suspend},
      {"VimResume", method::vim_resume},      {"FocusGained", method::focus_gained},
      {"FocusLost", method::input},
  };
  const std::map<std::string, std::string> commands{
      {user_command::status, "lua require('himalaya_coord').open_status()"},
      {user_command::sync_now, "lua require('himalaya_coord').sync_now()"},
  };
  // set_client_info + augroup + autocmds + commands + _host_ready.
  const int requests = 3 + static_cast<int>(autocmds.size() + commands.size());
  auto countdown = std::make_shared<Countdown>(requests, std::move(done));
  auto step = [countdown](rpc::Result<rpc::Object> result) {
    countdown->finish(result ? nullptr : &result.error());
  };

  session_->request(
      "nvim_set_client_info", step, std::string("himalaya-coord"),
      std::map<std::string, int>{
          {"major", version_major}, {"minor", version_minor}, {"patch", version_patch}},
      std::string("host"), StringMap{}, StringMap{});
  session_->request("nvim_create_augroup", step, std::string(augroup),
                    std::map<std::string, bool>{{"clear", true}});
  for (const auto& [event, notification] : autocmds) {
    session_->request(
        "nvim_create_autocmd", step, event,
        StringMap{{"group", augroup},
                  {"command", "call rpcnotify(" + chan + ", '" + notification + "')"}});
  }
  for (const auto& [name, command] : commands) {
    session_->request("nvim_create_user_command", step, name, command,
                      std::map<std::string, bool>{{"force", true}});
  }
  session_->request("nvim_exec_lua", step, lua_call(lua_fn::host_ready, true),
                    std::make_tuple(channel_, std::string(version_string)));
}

void Neovim::deliver(std::int64_t token, const nlohmann::json& value) {
  call_lua(lua_fn::deliver, nlohmann::json::array({token, value}));
}

void Neovim::notify_user(const std::string& message, Level level) {
  static const char* const names[] = {"DEBUG", "INFO", "WARN", "ERROR"};
  call_lua(lua_fn::notify, nlohmann::json::array({message, names[static_cast<int>(level)]}));
}

void Neovim::fire_event(const char* name, const nlohmann::json& data) {
  call_lua(lua_fn::event, nlohmann::json::array({name, data}));
}

void Neovim::send_sync_state(const nlohmann::json& state) {
  call_lua(lua_fn::sync_state, nlohmann::json::array({state}));
}

void Neovim::call_lua(const char* function, const nlohmann::json& args) {
  auto log = log_;
  session_->request(
      "nvim_exec_lua",
      [log, function](rpc::Result<rpc::Object> result) {
        if (!result) {
          log->warn("{} failed: {}", function, result.error().message);
        }
      },
      lua_call(function, false), JsonArg{&args});
}

}  // namespace himalaya::host
