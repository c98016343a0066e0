-- The names the host and the Lua side share: the RPC methods the host answers, the functions of
-- require('himalaya_coord') it calls, the User autocmds it fires, and the commands it registers
-- (SPEC §4, §9).
--
-- This is the one list. host/protocol.h spells the same names for C++, tests/lua/fake_host.py
-- reads this file, and tests/protocol/names_test.py fails if the three differ. Keep its shape:
-- fake_host.py parses it, so one `key = 'name',` per line and nothing computed.

return {
  -- Notifications to the host, from vim.rpcnotify() and from the autocmds the host registers.
  method = {
    status = 'status', -- [token]: the host answers with lua_fn.deliver(token, status)
    ping = 'ping', -- [token]: the host answers with lua_fn.deliver(token, 'pong')
    echo = 'echo', -- a request, not a notification: returns its params (bench/startup.sh)
    sync_now = 'sync_now',
    vim_leave_pre = 'vim_leave_pre',
    vim_suspend = 'vim_suspend',
    vim_resume = 'vim_resume',
    focus_gained = 'focus_gained',
    push_check = 'push_check', -- [token]: one login and IDLE check, then lua_fn.deliver
    input = 'input', -- away (SPEC §11): a key or mouse event (throttled), or FocusLost
  },
  -- Functions of require('himalaya_coord') that the host calls with nvim_exec_lua.
  lua_fn = {
    host_ready = '_host_ready', -- (channel, version)
    deliver = '_deliver', -- (token, value)
    notify = '_notify', -- (message, level name)
    event = '_event', -- (event name, data)
    sync_state = '_sync_state', -- (state): statusline()'s starting facts
  },
  -- The `User` autocmds of SPEC §9, fired through lua_fn.event.
  event = {
    sync_started = 'HimalayaSyncStarted',
    sync_done = 'HimalayaSyncDone',
    role_changed = 'HimalayaRoleChanged',
  },
  -- The commands the host registers; wait_ready() waits for user_command.status.
  user_command = {
    status = 'HimalayaSyncStatus', -- runs require('himalaya_coord').open_status()
    sync_now = 'HimalayaSyncNow', -- runs require('himalaya_coord').sync_now()
  },
}
