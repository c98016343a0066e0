-- himalaya-coord, the Lua side: options, the host's life cycle, and bounded requests to it.
--
-- The host (a C++ process started with jobstart(..., {rpc = true})) holds all the logic. It
-- registers :HimalayaSyncStatus, :HimalayaSyncNow and the augroup `himalaya_coord` itself, then
-- calls _host_ready(). Requests to it wait a bounded time (channel.lua). The names both sides
-- use are those of protocol.lua. See SPEC §4 and §8.

local channel = require('himalaya_coord.channel')
local config = require('himalaya_coord.config')
local events = require('himalaya_coord.events')
local presence = require('himalaya_coord.presence')
local protocol = require('himalaya_coord.protocol')
local status_window = require('himalaya_coord.status_window')
local method = protocol.method
local lua_fn = protocol.lua_fn

local M = {}

local uv = vim.uv or vim.loop
local levels = vim.log.levels

local TITLE = 'himalaya-coord'
local DEFAULT_TIMEOUT_MS = 1000
-- Restarts after unexpected exits: 200 ms, 400 ms, ... at most 5 s apart, and at most
-- RESTART_LIMIT of them within RESTART_WINDOW_MS; after that the host stays down.
local RESTART_FIRST_MS = 200
local RESTART_MAX_MS = 5000
local RESTART_LIMIT = 5
local RESTART_WINDOW_MS = 60000
local STDERR_LINES_KEPT = 20

-- Computed once per Neovim; stable across host restarts (SPEC §4: nvim_<start>_<pid>).
local instance_id = string.format('nvim_%d_%d', os.time(), vim.fn.getpid())

local state = {
  config = nil, -- the resolved configuration in force
  setup_error = nil, -- message of the last failed setup(), until one succeeds
  attempted = false, -- a start was attempted, by setup() or _autostart()
  job = nil, -- job (and channel) id of the current host
  binary = nil, -- the path the current host was started from
  ready = false, -- the current host has called _host_ready()
  host_version = nil,
  started_at = nil, -- uv.now() when the current host was started
  last_error = nil, -- why there is no host, for status() and :checkhealth
  exits = {}, -- uv.now() of recent unexpected exits, for the restart limit
  restart_timer = nil,
  gave_up = false,
  exiting = false,
  stderr = {}, -- the last lines the current host wrote to stderr
  stderr_partial = '',
}

local function notify(message, level)
  if message:sub(1, #TITLE) ~= TITLE then
    message = TITLE .. ': ' .. message
  end
  vim.notify(message, level, { title = TITLE })
end

local function debug_notify(message)
  if state.config and state.config.debug then
    notify(message, levels.DEBUG)
  end
end

local function disabled()
  local flag = vim.g.himalaya_coord_disable
  return flag == true or flag == 1
end

local function watch_exit()
  local group = vim.api.nvim_create_augroup('himalaya_coord_lua', { clear = true })
  vim.api.nvim_create_autocmd('VimLeavePre', {
    group = group,
    callback = function()
      state.exiting = true
    end,
  })
end

local function neovim_exiting()
  return state.exiting or vim.v.exiting ~= vim.NIL
end

local function remember_stderr(data)
  local lines = state.stderr
  state.stderr_partial = state.stderr_partial .. (data[1] or '')
  for i = 2, #data do
    if state.stderr_partial ~= '' then
      table.insert(lines, state.stderr_partial)
      if #lines > STDERR_LINES_KEPT then
        table.remove(lines, 1)
      end
    end
    state.stderr_partial = data[i]
  end
end

local function last_stderr_line()
  if state.stderr_partial ~= '' then
    return state.stderr_partial
  end
  return state.stderr[#state.stderr]
end

local function cancel_restart()
  local timer = state.restart_timer
  state.restart_timer = nil
  if timer and not timer:is_closing() then
    timer:stop()
    timer:close()
  end
end

local start_host

local function schedule_restart(reason)
  local now = uv.now()
  local recent = {}
  for _, t in ipairs(state.exits) do
    if now - t < RESTART_WINDOW_MS then
      table.insert(recent, t)
    end
  end
  state.exits = recent
  if #recent >= RESTART_LIMIT then
    state.gave_up = true
    state.last_error = string.format(
      'host exited %d times within %d s; not restarting it (last: %s)',
      #recent + 1,
      RESTART_WINDOW_MS / 1000,
      reason
    )
    notify(
      string.format(
        '%s. See the log file %s and :checkhealth himalaya_coord; '
          .. "call require('himalaya_coord').restart() to try again.",
        state.last_error,
        state.config and state.config.log_file or '?'
      ),
      levels.WARN
    )
    return
  end
  table.insert(state.exits, now)
  local delay = math.min(RESTART_FIRST_MS * 2 ^ (#state.exits - 1), RESTART_MAX_MS)
  debug_notify(string.format('host %s; restarting it in %d ms', reason, delay))
  local timer = uv.new_timer()
  state.restart_timer = timer
  timer:start(delay, 0, function()
    vim.schedule(function()
      if state.restart_timer ~= timer then
        return -- cancelled, or superseded by setup()
      end
      cancel_restart()
      if state.job or neovim_exiting() or disabled() then
        return
      end
      start_host(state.config)
    end)
  end)
end

local function on_host_exit(job, code)
  if job ~= state.job then
    return -- stopped on purpose, or already replaced
  end
  state.job = nil
  state.ready = false
  events._offline()
  if neovim_exiting() then
    return
  end
  local reason = string.format('exited with code %d', code)
  local line = last_stderr_line()
  if line then
    reason = reason .. ': ' .. line
  end
  state.last_error = 'host ' .. reason
  schedule_restart(reason)
end

-- Starts the host with `resolved`. Never raises; reports a problem with one warning.
start_host = function(resolved)
  state.attempted = true
  state.gave_up = false
  local binary, err = config.find_binary(resolved)
  if not binary then
    state.last_error = err
    notify(err, levels.WARN)
    return false
  end
  if vim.fn.exists('#himalaya_coord_lua#VimLeavePre') == 0 then
    watch_exit()
  end
  state.stderr = {}
  state.stderr_partial = ''
  state.ready = false
  state.host_version = nil
  local argv = { binary, '--config', vim.fn.json_encode(config.host_json(resolved, instance_id)) }
  local ok, job = pcall(vim.fn.jobstart, argv, {
    rpc = true,
    -- Its own session: Neovim's exit does not wait for the host (which hands
    -- over and exits on VimLeavePre and on EOF by itself), and Ctrl-Z stops
    -- Neovim but not the host, which then releases the primary role.
    detach = true,
    on_stderr = function(id, data)
      if id == state.job then
        remember_stderr(data)
      end
    end,
    on_exit = function(id, code)
      on_host_exit(id, code)
    end,
  })
  if not ok or type(job) ~= 'number' or job <= 0 then
    state.job = nil
    state.last_error = string.format(
      'failed to start the host %s: %s',
      binary,
      ok and ('jobstart returned ' .. tostring(job)) or tostring(job)
    )
    notify(state.last_error, levels.WARN)
    return false
  end
  state.job = job
  state.binary = binary
  state.started_at = uv.now()
  state.last_error = nil
  presence.watch(resolved.sync.away.after, function()
    return state.ready and state.job or nil
  end, method.input)
  return true
end

-- Public API -------------------------------------------------------------------------------

-- Validates and applies options. Idempotent: the same options again change nothing; other
-- options restart the host with them. Raises 'himalaya_coord: <key>: <problem>' on invalid
-- options, before anything starts.
function M.setup(opts)
  local resolved, err = config.validate(opts)
  if not resolved then
    state.setup_error = err
    error('himalaya_coord: ' .. err, 0)
  end
  state.setup_error = nil
  local changed = state.config == nil or not vim.deep_equal(resolved, state.config)
  state.config = resolved
  if disabled() then
    return
  end
  if state.job and not changed then
    return
  end
  if not state.job and state.restart_timer and not changed then
    return -- a restart is already on its way with these options
  end
  M._stop()
  state.exits = {}
  start_host(resolved)
end

-- Waits up to `timeout_ms` (default 1000) until the host has registered its commands.
-- Starts the host first if nothing has tried yet (e.g. called before the scheduled autostart).
function M.wait_ready(timeout_ms)
  if not state.attempted then
    M._autostart()
  end
  if not state.job and not state.restart_timer then
    return false
  end
  local ready = vim.wait(timeout_ms or DEFAULT_TIMEOUT_MS, function()
    local command = ':' .. protocol.user_command.status
    return state.job ~= nil and state.ready and vim.fn.exists(command) == 2
  end, 5)
  return ready == true
end

-- Sends `name` (a protocol.method) to the current host and waits at most `timeout_ms` for its
-- answer. Returns the value (vim.NIL for a nil value), or nil and a message.
local function request(name, timeout_ms)
  local job = state.job
  if not job then
    return nil, state.last_error or 'host not running'
  end
  return channel.request(job, name, timeout_ms or DEFAULT_TIMEOUT_MS, function()
    if state.job ~= job then
      return state.last_error or 'host exited'
    end
  end)
end

-- request() for an answer that is a table: its nil (vim.NIL) fields are dropped.
local function request_table(name, timeout_ms)
  local value, err = request(name, timeout_ms)
  if value == nil then
    return nil, err
  end
  if type(value) ~= 'table' then
    return nil, 'host sent an unexpected ' .. name .. ' reply'
  end
  for key, field in pairs(value) do
    if field == vim.NIL then
      value[key] = nil
    end
  end
  return value
end

-- The host's status as a table: { lines = {...}, instance = {...}, primary = {...} or nil,
-- last_sync = {...} or nil, cooldown_remaining = N, ... }; or nil and a message.
function M.status(timeout_ms)
  return request_table(method.status, timeout_ms)
end

-- The status report (SPEC §4) as lines; a short report naming the problem if the host fails.
function M.status_lines(timeout_ms)
  local status, err = M.status(timeout_ms)
  if status and type(status.lines) == 'table' then
    local lines = {}
    for _, line in ipairs(status.lines) do
      for part in (tostring(line) .. '\n'):gmatch('(.-)\n') do
        table.insert(lines, part)
      end
    end
    return lines
  end
  err = err or 'status reply without lines'
  return {
    require('himalaya_coord.report').TITLE,
    '',
    '  Host: ' .. (err:gsub('\n', ' ')),
  }
end

-- Opens the status report in a centered scratch float; `q` closes it. Returns buf, win.
function M.open_status()
  return status_window.open(M.status_lines())
end

-- Asks the host to sync now (SPEC §4); the host reports the outcome through _notify().
function M.sync_now()
  local job = state.job
  if not job then
    notify('cannot sync: ' .. (state.last_error or 'host not running'), levels.WARN)
    return false
  end
  local sent, err = pcall(vim.rpcnotify, job, method.sync_now)
  if not sent then
    notify('cannot sync: host not reachable: ' .. tostring(err), levels.WARN)
    return false
  end
  return true
end

-- Stops the host if it runs and starts it again with the options in force, forgetting earlier
-- restarts: the way out after the host gave up or hung. Returns true if a host was started.
function M.restart()
  if disabled() then
    notify('disabled (vim.g.himalaya_coord_disable): not starting', levels.WARN)
    return false
  end
  if not state.config then
    if state.setup_error then
      notify('not starting: setup() failed: ' .. state.setup_error, levels.WARN)
      return false
    end
    state.config = assert(config.validate({}))
  end
  M._stop()
  state.exits = {}
  return start_host(state.config)
end

-- SPEC §9: the latest data table of a User event (HimalayaSyncStarted, HimalayaSyncDone,
-- HimalayaRoleChanged), and a short text for the statusline; see events.lua.
M.last_event = events.last_event
M.statusline = events.statusline

function M.instance_id()
  return instance_id
end

function M.host_job()
  return state.job
end

-- Internal ---------------------------------------------------------------------------------

-- Called from plugin/himalaya_coord.lua, scheduled so that a setup() in init.lua comes first.
-- Starts the host with the options of an earlier setup(), or the defaults.
function M._autostart()
  if state.attempted or disabled() then
    return
  end
  if not state.config then
    if state.setup_error then
      return -- setup() failed; its error said why, and nothing starts
    end
    state.config = assert(config.validate({}))
  end
  start_host(state.config)
end

-- Stops the host on purpose: no restart follows. setup() with other options uses it.
function M._stop()
  cancel_restart()
  local job = state.job
  state.job = nil
  state.ready = false
  events._offline()
  if job then
    pcall(vim.fn.jobstop, job)
  end
end

-- The functions the host calls with nvim_exec_lua (protocol.lua_fn):

-- _host_ready(channel, version): the host's commands and autocmds exist.
M[lua_fn.host_ready] = function(channel_id, host_version)
  if state.job == nil or tonumber(channel_id) ~= state.job then
    return false
  end
  state.ready = true
  state.host_version = host_version
  return true
end

-- _deliver(token, value): the answer to a request().
M[lua_fn.deliver] = channel.deliver

-- _notify(message, level): a message to show; level is 'DEBUG'|'INFO'|'WARN'|'ERROR'.
-- Scheduled so that a hit-enter prompt never holds up the host's request.
M[lua_fn.notify] = function(message, level)
  local number = type(level) == 'number' and level or levels[tostring(level)] or levels.INFO
  message = tostring(message)
  vim.schedule(function()
    notify(message, number)
  end)
end

-- _event(name, data) and _sync_state(state): an event to fire, and statusline()'s starting facts.
M[lua_fn.event] = events._event
M[lua_fn.sync_state] = events._sync_state

-- Round trip to the host in milliseconds, or nil and a message. For :checkhealth.
function M._ping(timeout_ms)
  local started = uv.hrtime()
  local value, err = request(method.ping, timeout_ms)
  if value == nil then
    return nil, err
  end
  return (uv.hrtime() - started) / 1e6
end

-- The host's push check (SPEC §10): it logs in once to the first account of the mbsync
-- configuration and checks IDLE. Returns its result table (nil fields dropped), or nil and a
-- message. Takes up to the host's connect time-out, so :checkhealth gives a long deadline.
function M._push_check(timeout_ms)
  return request_table(method.push_check, timeout_ms)
end

-- A snapshot of the life-cycle state, for :checkhealth and tests.
function M._info()
  local recent = 0
  local now = uv.now()
  for _, t in ipairs(state.exits) do
    if now - t < RESTART_WINDOW_MS then
      recent = recent + 1
    end
  end
  local stderr = vim.deepcopy(state.stderr)
  if state.stderr_partial ~= '' then
    table.insert(stderr, state.stderr_partial)
  end
  return {
    disabled = disabled(),
    config = vim.deepcopy(state.config),
    setup_error = state.setup_error,
    attempted = state.attempted,
    job = state.job,
    binary = state.binary,
    ready = state.ready,
    host_version = state.host_version,
    uptime_ms = state.job and state.started_at and (now - state.started_at) or nil,
    last_error = state.last_error,
    recent_restarts = recent,
    restart_pending = state.restart_timer ~= nil,
    gave_up = state.gave_up,
    stderr = stderr,
  }
end

return M
