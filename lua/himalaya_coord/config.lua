-- The option schema, its defaults and its validation (SPEC §3).
--
-- validate(opts) never raises: it returns the resolved configuration, or nil and one message
-- '<dotted.key>: <problem>' for the first problem found. Resolution fills in defaults, expands
-- `~`, makes paths absolute and applies the XDG defaults, so what the host receives is complete.

local M = {}

-- The longest duration accepted, in seconds; the host refuses anything longer.
local MAX_SECONDS = 1e9

-- Each entry: key, kind, default and, for numbers, the lower bound. Order is the order in
-- which problems are reported. A `nil` default means "resolved later" (paths, binary).
local schema = {
  { key = 'binary', kind = 'string?' },
  { key = 'debug', kind = 'boolean', default = false },
  { key = 'state_file', kind = 'path?' },
  { key = 'log_file', kind = 'path?' },
  {
    key = 'sync',
    kind = 'table',
    fields = {
      { key = 'auto_sync', kind = 'boolean', default = true },
      { key = 'interval', kind = 'seconds', default = 900 },
      { key = 'startup_delay', kind = 'seconds', default = 2, zero_ok = true },
      { key = 'command', kind = 'argv', default = { 'mbsync', '-a' } },
      { key = 'timeout', kind = 'seconds', default = 600 },
      { key = 'lock_file', kind = 'path?' },
      {
        key = 'coordination',
        kind = 'table',
        fields = {
          { key = 'enabled', kind = 'boolean', default = true },
          { key = 'heartbeat_interval', kind = 'seconds', default = 30 },
          { key = 'takeover_threshold', kind = 'seconds', default = 60 },
          { key = 'sync_cooldown', kind = 'seconds', default = 300 },
          { key = 'priority', kind = 'number', default = 0 },
        },
      },
      {
        key = 'push',
        kind = 'table',
        fields = {
          { key = 'enabled', kind = 'auto_or_boolean', default = 'auto' },
          { key = 'mbsyncrc', kind = 'path?' },
          { key = 'mailboxes', kind = 'names', default = { 'INBOX' } },
          { key = 'min_gap', kind = 'seconds', default = 2, zero_ok = true },
        },
      },
      {
        key = 'adaptive',
        kind = 'table',
        fields = {
          { key = 'enabled', kind = 'boolean', default = false },
          { key = 'min_interval', kind = 'seconds', default = 120 },
          { key = 'max_interval', kind = 'seconds', default = 3600 },
        },
      },
      { key = 'channels', kind = 'channels', default = {} },
      { key = 'max_parallel', kind = 'count', default = 2 },
      {
        key = 'away',
        kind = 'table',
        fields = {
          { key = 'after', kind = 'seconds_or_false', default = 900 },
          { key = 'interval', kind = 'seconds', default = 3600 },
        },
      },
    },
  },
}

local function dotted(prefix, key)
  local name = type(key) == 'string' and key or ('[' .. tostring(key) .. ']')
  if prefix == '' then
    return name
  end
  return prefix .. '.' .. name
end

-- Levenshtein distance, for "did you mean" on misspelt keys.
local function distance(a, b)
  local previous = {}
  for j = 0, #b do
    previous[j] = j
  end
  for i = 1, #a do
    local current = { [0] = i }
    for j = 1, #b do
      local cost = a:sub(i, i) == b:sub(j, j) and 0 or 1
      current[j] = math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
    end
    previous = current
  end
  return previous[#b]
end

local function suggestion(key, fields)
  if type(key) ~= 'string' then
    return ''
  end
  local best, best_distance = nil, 3
  for _, field in ipairs(fields) do
    local d = distance(key, field.key)
    if d < best_distance then
      best, best_distance = field.key, d
    end
  end
  return best and (' (did you mean ' .. best .. '?)') or ''
end

local function is_list(value)
  local count = 0
  for _ in pairs(value) do
    count = count + 1
  end
  for i = 1, count do
    if value[i] == nil then
      return false
    end
  end
  return true
end

-- A non-empty list of distinct, non-empty strings (sync.push.mailboxes). Returns a problem or nil.
local function check_names(value)
  if type(value) ~= 'table' or not is_list(value) then
    return "expected a list of mailbox names such as { 'INBOX' }, got " .. type(value)
  end
  if #value == 0 then
    return 'must not be empty: give at least one mailbox'
  end
  local seen = {}
  for i, name in ipairs(value) do
    if type(name) ~= 'string' then
      return 'element ' .. i .. ' must be a string, got ' .. type(name)
    end
    if name == '' then
      return 'element ' .. i .. ' is empty'
    end
    if seen[name] then
      return string.format('element %d repeats %q', i, name)
    end
    seen[name] = true
  end
  return nil
end

-- sync.channels: a list of { name = <mbsync channel or group>, interval = <seconds> }, each name
-- once. Returns a problem or nil; whether the names exist is checked in validate().
local function check_channels(value)
  if type(value) ~= 'table' or not is_list(value) then
    return "expected a list such as { { name = 'inbox', interval = 120 } }, got " .. type(value)
  end
  local seen = {}
  for i, entry in ipairs(value) do
    local where = '[' .. i .. ']'
    if type(entry) ~= 'table' then
      return where .. ': expected { name = ..., interval = ... }, got ' .. type(entry)
    end
    for key in pairs(entry) do
      if key ~= 'name' and key ~= 'interval' then
        return where .. '.' .. tostring(key) .. ': unknown option (expected name and interval)'
      end
    end
    if type(entry.name) ~= 'string' or entry.name == '' then
      return where .. '.name: expected the name of an mbsync channel or group'
    end
    local interval = entry.interval
    if type(interval) ~= 'number' or interval ~= interval or interval <= 0 or interval > MAX_SECONDS
    then
      return where .. '.interval: expected a positive number of seconds, got ' .. tostring(interval)
    end
    if seen[entry.name] then
      return string.format('%s.name: %q is listed twice', where, entry.name)
    end
    seen[entry.name] = true
  end
  return nil
end

local function check_value(field, value)
  local kind = field.kind
  if kind == 'seconds_or_false' then
    if value == false then
      return nil
    end
    if type(value) ~= 'number' then
      return 'expected a number of seconds or false, got ' .. tostring(value)
    end
    kind = 'seconds'
  end
  if kind == 'auto_or_boolean' then
    if value ~= 'auto' and type(value) ~= 'boolean' then
      local shown = type(value) == 'string' and string.format('%q', value) or type(value)
      return "expected 'auto', true or false, got " .. shown
    end
  elseif kind == 'names' then
    return check_names(value)
  elseif kind == 'channels' then
    return check_channels(value)
  elseif kind == 'count' then
    if type(value) ~= 'number' or value ~= math.floor(value) or value < 1 or value > 64 then
      return 'expected a whole number from 1 to 64, got ' .. tostring(value)
    end
  elseif kind == 'boolean' then
    if type(value) ~= 'boolean' then
      return 'expected a boolean, got ' .. type(value)
    end
  elseif kind == 'string?' or kind == 'path?' then
    if type(value) ~= 'string' then
      return 'expected a string, got ' .. type(value)
    end
    if value == '' then
      return 'must not be empty'
    end
  elseif kind == 'number' then
    if type(value) ~= 'number' then
      return 'expected a number, got ' .. type(value)
    end
    if value ~= value or math.abs(value) > MAX_SECONDS then
      return 'must be a finite number between -1e9 and 1e9, got ' .. tostring(value)
    end
  elseif kind == 'seconds' then
    if type(value) ~= 'number' then
      return 'expected a number of seconds, got ' .. type(value)
    end
    if value ~= value or value == math.huge or value == -math.huge then
      return 'must be a finite number of seconds'
    end
    if field.zero_ok then
      if value < 0 then
        return 'must be zero or a positive number of seconds, got ' .. tostring(value)
      end
    elseif value <= 0 then
      return 'must be a positive number of seconds, got ' .. tostring(value)
    end
    if value > MAX_SECONDS then
      return 'must be at most ' .. string.format('%d', MAX_SECONDS) .. ' seconds'
    end
  elseif kind == 'argv' then
    if type(value) ~= 'table' or not is_list(value) then
      return "expected a list of strings such as { 'mbsync', '-a' }, got " .. type(value)
    end
    if #value == 0 then
      return 'must not be empty: give the program and its arguments'
    end
    for i, arg in ipairs(value) do
      if type(arg) ~= 'string' then
        return 'element ' .. i .. ' must be a string, got ' .. type(arg)
      end
    end
    if value[1] == '' then
      return 'the program name (element 1) is empty'
    end
  end
  return nil
end

-- Validates `opts` (a table or nil) against `fields`; fills `out`. Returns an error or nil.
local function resolve_level(opts, fields, prefix, out)
  if opts == nil then
    opts = {}
  end
  if type(opts) ~= 'table' then
    return (prefix == '' and 'opts' or prefix) .. ': expected a table, got ' .. type(opts)
  end
  local known = {}
  for _, field in ipairs(fields) do
    known[field.key] = true
  end
  local unknown = {}
  for key in pairs(opts) do
    if not known[key] then
      table.insert(unknown, key)
    end
  end
  table.sort(unknown, function(a, b)
    return tostring(a) < tostring(b)
  end)
  if #unknown > 0 then
    local key = unknown[1]
    return dotted(prefix, key) .. ': unknown option' .. suggestion(key, fields)
  end
  for _, field in ipairs(fields) do
    local name = dotted(prefix, field.key)
    local value = opts[field.key]
    if field.kind == 'table' then
      out[field.key] = {}
      local err = resolve_level(value, field.fields, name, out[field.key])
      if err then
        return err
      end
    elseif value == nil then
      out[field.key] = vim.deepcopy(field.default)
    else
      local problem = check_value(field, value)
      if problem then
        -- A problem of a list element names it: sync.channels[2].name: ...
        return name .. (problem:sub(1, 1) == '[' and '' or ': ') .. problem
      end
      out[field.key] = vim.deepcopy(value)
    end
  end
  return nil
end

local function home()
  local dir = os.getenv('HOME')
  if dir == nil or dir == '' then
    dir = (vim.uv or vim.loop).os_homedir()
  end
  return dir
end

-- `~` and `~/x` become $HOME and $HOME/x; a relative path is taken from the current directory.
function M.expand_path(path)
  if path == '~' then
    path = home()
  elseif path:sub(1, 2) == '~/' then
    path = home() .. path:sub(2)
  end
  if path:sub(1, 1) ~= '/' then
    path = vim.fn.fnamemodify(path, ':p')
  end
  return path
end

-- An XDG base directory from the environment; unset, empty or relative values are ignored, as
-- the XDG Base Directory specification requires.
local function xdg_dir(variable)
  local value = os.getenv(variable)
  if value == nil or value == '' or value:sub(1, 1) ~= '/' then
    return nil
  end
  return value
end

function M.default_state_file()
  local base = xdg_dir('XDG_CONFIG_HOME') or (home() .. '/.config')
  return base .. '/himalaya/sync_coordinator.json'
end

function M.default_log_file()
  local base = xdg_dir('XDG_STATE_HOME') or (home() .. '/.local/state')
  return base .. '/himalaya/coord.log'
end

function M.default_lock_file()
  local runtime = xdg_dir('XDG_RUNTIME_DIR')
  if runtime then
    return runtime .. '/himalaya/mbsync.lock'
  end
  return home() .. '/.cache/himalaya/mbsync.lock'
end

-- The schema's defaults, with every path left unresolved (nil). For documentation and tests.
function M.defaults()
  local out = {}
  resolve_level({}, schema, '', out)
  return out
end

-- Returns the resolved configuration, or nil and '<dotted.key>: <problem>'.
function M.validate(opts)
  local out = {}
  local err = resolve_level(opts, schema, '', out)
  if err then
    return nil, err
  end
  local coordination = out.sync.coordination
  if coordination.heartbeat_interval >= coordination.takeover_threshold then
    return nil,
      string.format(
        'sync.coordination.heartbeat_interval: must be less than '
          .. 'sync.coordination.takeover_threshold (%s >= %s)',
        tostring(coordination.heartbeat_interval),
        tostring(coordination.takeover_threshold)
      )
  end
  local adaptive = out.sync.adaptive
  if adaptive.min_interval > adaptive.max_interval then
    return nil,
      string.format(
        'sync.adaptive.min_interval: must be at most sync.adaptive.max_interval (%s > %s)',
        tostring(adaptive.min_interval),
        tostring(adaptive.max_interval)
      )
  end
  if out.binary and out.binary:find('/', 1, true) then
    out.binary = M.expand_path(out.binary)
  end
  out.state_file = out.state_file and M.expand_path(out.state_file) or M.default_state_file()
  out.log_file = out.log_file and M.expand_path(out.log_file) or M.default_log_file()
  out.sync.lock_file = out.sync.lock_file and M.expand_path(out.sync.lock_file)
    or M.default_lock_file()
  local push = out.sync.push
  push.mbsyncrc = push.mbsyncrc and M.expand_path(push.mbsyncrc)
  local problem = require('himalaya_coord.mbsync_names').check(out.sync, M.expand_path)
  if problem then
    return nil, problem
  end
  return out
end

-- What the host receives as --config (host/config.cpp reads it): the resolved options without
-- `binary`, and the facts of this Neovim. A nil option (sync.push.mbsyncrc) is an absent key.
function M.host_json(resolved, instance_id)
  local v = vim.version()
  return {
    instance_id = instance_id,
    nvim_pid = vim.fn.getpid(),
    nvim_version = string.format('%d.%d.%d', v.major, v.minor, v.patch),
    debug = resolved.debug,
    state_file = resolved.state_file,
    log_file = resolved.log_file,
    sync = vim.deepcopy(resolved.sync),
  }
end

-- The plugin's root directory: three levels up from lua/himalaya_coord/config.lua.
function M.plugin_root()
  local source = debug.getinfo(1, 'S').source
  if source:sub(1, 1) == '@' then
    source = source:sub(2)
  end
  return vim.fn.fnamemodify(source, ':p:h:h:h')
end

function M.build_command()
  return 'cmake -S . -B build -DCMAKE_BUILD_TYPE=Release && cmake --build build -j'
end

-- Finds the host binary (SPEC §2): opts.binary, else <plugin root>/build/himalaya-coord, else
-- himalaya-coord on PATH. An explicit `binary` is the only candidate: a typo there should be
-- reported, not hidden behind another binary. Returns the path, or nil and a message that says
-- what was tried and how to build.
function M.find_binary(resolved)
  if resolved.binary then
    local path = resolved.binary
    if not path:find('/', 1, true) then
      path = vim.fn.exepath(path)
      if path == '' then
        return nil,
          string.format(
            'host binary not found: binary = %q is not an executable on PATH',
            resolved.binary
          )
      end
    end
    if vim.fn.executable(path) ~= 1 then
      return nil, string.format('host binary not found: binary = %q is not executable', path)
    end
    return path
  end
  local root = M.plugin_root()
  local built = root .. '/build/himalaya-coord'
  if vim.fn.executable(built) == 1 then
    return built
  end
  local on_path = vim.fn.exepath('himalaya-coord')
  if on_path ~= '' then
    return on_path
  end
  return nil,
    string.format(
      'host binary not found (looked for %s and himalaya-coord on PATH). '
        .. 'Build it: cd %s && %s',
      built,
      vim.fn.shellescape(root),
      M.build_command()
    )
end

return M
