// The names the host shares with the Lua side: the RPC methods it answers, the
// functions of require('himalaya_coord') it calls, the `User` autocmds it fires
// and the commands it registers (SPEC §4, §9).
//
// The one list is lua/himalaya_coord/protocol.lua; this header spells the same
// names for C++, with the same tables and keys. tests/protocol/names_test.py
// compares protocol_names below with that file and with tests/lua/fake_host.py,
// and fails on any difference.
#pragma once

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
// Away (SPEC §11): a key or mouse event (throttled), or FocusLost.
inline constexpr const char* input = "input";
// [token]: one login to the first account, an IDLE check, then lua_fn::deliver
// (SPEC §10; the result's keys are in host/push_check.h).
inline constexpr const char* push_check = "push_check";
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

// The commands the host registers; the Lua side's wait_ready() waits for
// user_command::status.
namespace user_command {
inline constexpr const char* status = "HimalayaSyncStatus";  // open_status()
inline constexpr const char* sync_now = "HimalayaSyncNow";   // sync_now()
}  // namespace user_command

// One name of the namespaces above: protocol.lua's table, its key there, and
// the name itself.
struct ProtocolName {
  const char* table;
  const char* key;
  const char* name;
};

// Every name above, for the test that keeps this header and protocol.lua
// equal. The test also fails on a constant above that is missing here.
inline constexpr ProtocolName protocol_names[] = {
    {"method", "status", method::status},
    {"method", "ping", method::ping},
    {"method", "echo", method::echo},
    {"method", "sync_now", method::sync_now},
    {"method", "vim_leave_pre", method::vim_leave_pre},
    {"method", "vim_suspend", method::vim_suspend},
    {"method", "vim_resume", method::vim_resume},
    {"method", "focus_gained", method::focus_gained},
    {"method", "push_check", method::push_check},
    {"method", "input", method::input},
    {"lua_fn", "host_ready", lua_fn::host_ready},
    {"lua_fn", "deliver", lua_fn::deliver},
    {"lua_fn", "notify", lua_fn::notify},
    {"lua_fn", "event", lua_fn::event},
    {"lua_fn", "sync_state", lua_fn::sync_state},
    {"event", "sync_started", event::sync_started},
    {"event", "sync_done", event::sync_done},
    {"event", "role_changed", event::role_changed},
    {"user_command", "status", user_command::status},
    {"user_command", "sync_now", user_command::sync_now},
};

}  // namespace himalaya::host
