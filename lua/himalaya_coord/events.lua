-- The editor side of SPEC §9: the `User` autocmds the host fires, last_event(), and statusline().
--
-- The host decides what happened and when; this module only keeps the latest data of each event,
-- fires the autocmd, and keeps the few facts statusline() shows. The host calls (through
-- require('himalaya_coord'), see init.lua) _event(name, data) for every event and
-- _sync_state(state) once when it starts. statusline() reads only what they left here: no RPC,
-- no file access.

local names = require('himalaya_coord.protocol').event
local report = require('himalaya_coord.report')

local M = {}

local known = {}
for _, name in pairs(names) do
  known[name] = true
end

-- Neovim 0.8 added `data` to nvim_exec_autocmds (and to the callback's argument); 0.7 refuses
-- the key. There, handlers read require('himalaya_coord').last_event(args.match).
local has_data = vim.fn.has('nvim-0.8') == 1

local last = {} -- event name -> the data table of its latest firing

-- statusline()'s facts.
local role = nil -- the role label; nil while there is no host
-- The fleet's running syncs: instance id -> start. With sync.channels several instances sync at
-- once, and each sync ends with its own HimalayaSyncDone. An instance runs one sync at a time, so
-- its later start or end also ends an earlier sync whose end was never heard.
local running = {}
local running_at_start = false -- the host said, when it started, that a sync was running
local last_started = nil -- Unix seconds at which the latest known sync started; nil: none known
local failed = false -- the last sync ended with another outcome than 'ok'

-- msgpack nil arrives as vim.NIL inside tables; the data tables hold plain nils instead.
local function without_nil(data)
  local out = {}
  for key, value in pairs(data) do
    if value ~= vim.NIL then
      out[key] = value
    end
  end
  return out
end

local function remember(name, data)
  last[name] = data
  if name == names.role_changed then
    role = data.role
  elseif type(data.started) == 'number' then
    last_started = math.max(last_started or data.started, data.started)
    local id = tostring(data.instance_id)
    if name == names.sync_started then
      running[id] = data.started
    else
      if running[id] ~= nil and running[id] <= data.started then
        running[id] = nil
      end
      running_at_start = false
      failed = data.outcome ~= 'ok'
    end
  end
end

local function fire(name, data)
  local opts = { pattern = name, modeline = false }
  if has_data then
    opts.data = data
  end
  local ok, err = pcall(vim.api.nvim_exec_autocmds, 'User', opts)
  if not ok then
    vim.notify(
      string.format('himalaya-coord: a User %s handler failed: %s', name, tostring(err)),
      vim.log.levels.WARN,
      { title = 'himalaya-coord' }
    )
  end
end

-- Called by the host. Scheduled, like _notify: a handler that prompts or errors never holds up
-- the host's request, and events keep their order.
function M._event(name, data)
  if not known[name] or type(data) ~= 'table' then
    return false
  end
  data = without_nil(data)
  vim.schedule(function()
    remember(name, data)
    fire(name, data)
  end)
  return true
end

-- Called by the host when it starts: { role, syncing, last_started (nil: never), outcome (of
-- that sync; nil while unknown or running) }.
function M._sync_state(state)
  if type(state) ~= 'table' then
    return false
  end
  state = without_nil(state)
  vim.schedule(function()
    role = type(state.role) == 'string' and state.role or nil
    running = {}
    running_at_start = state.syncing == true
    last_started = type(state.last_started) == 'number' and state.last_started or nil
    failed = state.outcome ~= nil and state.outcome ~= 'ok'
  end)
  return true
end

-- The host exited or was stopped: statusline() says 'mail off' until the next one reports.
function M._offline()
  role = nil
  running = {}
  running_at_start = false
end

-- A copy of the data table of the latest `name` event, or nil if there was none.
function M.last_event(name)
  local data = last[name]
  return data and vim.deepcopy(data)
end

-- 'mail 3m', 'mail syncing', 'mail failed 2m', 'mail off' (Uncoordinated or no host), or
-- 'mail never' (no sync known yet). The age is that of the last sync's start, counted as in the
-- status report (report.short_duration).
function M.statusline()
  if role == nil or role == 'Uncoordinated' then
    return 'mail off'
  end
  if running_at_start or next(running) ~= nil then
    return 'mail syncing'
  end
  if last_started == nil then
    return 'mail never'
  end
  local text = report.short_duration(os.time() - last_started)
  if failed then
    return 'mail failed ' .. text
  end
  return 'mail ' .. text
end

return M
