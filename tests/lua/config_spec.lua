-- Option validation and resolution (SPEC §3), against lua/himalaya_coord/config.lua.
local H = dofile(vim.fn.fnamemodify(debug.getinfo(1, 'S').source:sub(2), ':p:h') .. '/harness.lua')
H.start('config')

local config = require('himalaya_coord.config')

local function err_of(opts)
  local resolved, err = config.validate(opts)
  H.eq(nil, resolved, 'resolved config for ' .. vim.inspect(opts))
  return err
end

local function with_env(vars, fn)
  local saved = {}
  for name, value in pairs(vars) do
    saved[name] = os.getenv(name) or false
    vim.env[name] = value or nil
  end
  local ok, err = pcall(fn)
  for name, value in pairs(saved) do
    vim.env[name] = value or nil
  end
  if not ok then
    error(err, 0)
  end
end

H.test('defaults are exactly SPEC §3 and §10', function()
  local defaults = config.defaults()
  H.eq({
    debug = false,
    sync = {
      auto_sync = true,
      interval = 900,
      startup_delay = 2,
      command = { 'mbsync', '-a' },
      timeout = 600,
      coordination = {
        enabled = true,
        heartbeat_interval = 30,
        takeover_threshold = 60,
        sync_cooldown = 300,
        priority = 0,
      },
      push = { enabled = 'auto', mailboxes = { 'INBOX' }, min_gap = 2 },
      adaptive = { enabled = false, min_interval = 120, max_interval = 3600 },
      away = { after = 900, interval = 3600 },
      channels = {},
      max_parallel = 2,
    },
  }, defaults)
end)

H.test('nil and {} resolve alike, with default paths', function()
  with_env({
    HOME = '/home/tester',
    XDG_CONFIG_HOME = false,
    XDG_STATE_HOME = false,
    XDG_RUNTIME_DIR = false,
  }, function()
    local a = assert(config.validate(nil))
    local b = assert(config.validate({}))
    H.eq(a, b)
    H.eq(nil, a.binary)
    H.eq('/home/tester/.config/himalaya/sync_coordinator.json', a.state_file)
    H.eq('/home/tester/.local/state/himalaya/coord.log', a.log_file)
    H.eq('/home/tester/.cache/himalaya/mbsync.lock', a.sync.lock_file)
    H.eq(900, a.sync.interval)
    H.eq({ 'mbsync', '-a' }, a.sync.command)
  end)
end)

H.test('XDG variables place the default files', function()
  with_env({
    HOME = '/home/tester',
    XDG_CONFIG_HOME = '/xdg/config',
    XDG_STATE_HOME = '/xdg/state',
    XDG_RUNTIME_DIR = '/run/user/1000',
  }, function()
    local c = assert(config.validate({}))
    H.eq('/xdg/config/himalaya/sync_coordinator.json', c.state_file)
    H.eq('/xdg/state/himalaya/coord.log', c.log_file)
    H.eq('/run/user/1000/himalaya/mbsync.lock', c.sync.lock_file)
  end)
end)

H.test('empty or relative XDG variables are ignored', function()
  with_env({
    HOME = '/home/tester',
    XDG_CONFIG_HOME = '',
    XDG_STATE_HOME = 'relative/state',
    XDG_RUNTIME_DIR = '',
  }, function()
    local c = assert(config.validate({}))
    H.eq('/home/tester/.config/himalaya/sync_coordinator.json', c.state_file)
    H.eq('/home/tester/.local/state/himalaya/coord.log', c.log_file)
    H.eq('/home/tester/.cache/himalaya/mbsync.lock', c.sync.lock_file)
  end)
end)

H.test('user paths: ~ expanded, relative made absolute', function()
  with_env({ HOME = '/home/tester' }, function()
    local c = assert(config.validate({
      state_file = '~/state.json',
      log_file = '/var/tmp/coord.log',
      binary = '~/bin/himalaya-coord',
      sync = { lock_file = 'rel/mbsync.lock' },
    }))
    H.eq('/home/tester/state.json', c.state_file)
    H.eq('/var/tmp/coord.log', c.log_file)
    H.eq('/home/tester/bin/himalaya-coord', c.binary)
    H.eq(vim.fn.getcwd() .. '/rel/mbsync.lock', c.sync.lock_file)
  end)
  H.eq(
    '/home/tester',
    (function()
      local result
      with_env({ HOME = '/home/tester' }, function()
        result = config.expand_path('~')
      end)
      return result
    end)()
  )
end)

H.test('a bare binary name is kept for a PATH lookup', function()
  local c = assert(config.validate({ binary = 'himalaya-coord-dev' }))
  H.eq('himalaya-coord-dev', c.binary)
end)

H.test('partial tables merge with the defaults', function()
  local c = assert(config.validate({
    debug = true,
    sync = { interval = 60, coordination = { sync_cooldown = 10 } },
  }))
  H.eq(true, c.debug)
  H.eq(60, c.sync.interval)
  H.eq(2, c.sync.startup_delay)
  H.eq(true, c.sync.auto_sync)
  H.eq(10, c.sync.coordination.sync_cooldown)
  H.eq(30, c.sync.coordination.heartbeat_interval)
  H.eq(true, c.sync.coordination.enabled)
end)

H.test('fractional durations are accepted, startup_delay may be 0', function()
  local c = assert(config.validate({
    sync = {
      interval = 0.5,
      startup_delay = 0,
      timeout = 0.25,
      coordination = { heartbeat_interval = 0.05, takeover_threshold = 0.15, sync_cooldown = 0.2 },
    },
  }))
  H.eq(0.5, c.sync.interval)
  H.eq(0, c.sync.startup_delay)
  H.eq(0.05, c.sync.coordination.heartbeat_interval)
  H.eq(0.15, c.sync.coordination.takeover_threshold)
  H.eq(0.2, c.sync.coordination.sync_cooldown)
end)

H.test('validate does not alias or change its argument', function()
  local command = { 'mbsync', 'work' }
  local opts = { sync = { command = command } }
  local c = assert(config.validate(opts))
  H.eq({ 'mbsync', 'work' }, c.sync.command)
  c.sync.command[1] = 'changed'
  H.eq('mbsync', command[1])
  H.eq({ sync = { command = { 'mbsync', 'work' } } }, opts)
end)

H.test('unknown keys are named in full, at every level', function()
  H.eq('colour: unknown option', err_of({ colour = 'red' }))
  H.eq(
    'sync.intervall: unknown option (did you mean interval?)',
    err_of({ sync = { intervall = 1 } })
  )
  H.eq(
    'sync.coordination.heartbeat_intervall: unknown option (did you mean heartbeat_interval?)',
    err_of({ sync = { coordination = { heartbeat_intervall = 30 } } })
  )
  H.eq('[1]: unknown option', err_of({ 'mbsync' }))
  H.eq('sync.coordination.zzz: unknown option', err_of({ sync = { coordination = { zzz = 1 } } }))
end)

H.test('wrong types name the key', function()
  H.eq('opts: expected a table, got string', err_of('fast'))
  H.eq('debug: expected a boolean, got number', err_of({ debug = 1 }))
  H.eq('binary: expected a string, got number', err_of({ binary = 42 }))
  H.eq('binary: must not be empty', err_of({ binary = '' }))
  H.eq('state_file: expected a string, got boolean', err_of({ state_file = true }))
  H.eq('log_file: must not be empty', err_of({ log_file = '' }))
  H.eq('sync: expected a table, got boolean', err_of({ sync = true }))
  H.eq('sync.auto_sync: expected a boolean, got string', err_of({ sync = { auto_sync = 'yes' } }))
  H.eq(
    'sync.interval: expected a number of seconds, got string',
    err_of({ sync = { interval = '900' } })
  )
  H.eq('sync.lock_file: expected a string, got table', err_of({ sync = { lock_file = {} } }))
  H.eq(
    'sync.coordination: expected a table, got string',
    err_of({ sync = { coordination = 'on' } })
  )
  H.eq(
    'sync.coordination.enabled: expected a boolean, got number',
    err_of({ sync = { coordination = { enabled = 0 } } })
  )
end)

H.test('durations must be positive and finite', function()
  for _, key in ipairs({ 'interval', 'timeout' }) do
    for _, value in ipairs({ 0, -1, -0.5 }) do
      H.contains(
        'sync.' .. key .. ': must be a positive number of seconds',
        err_of({ sync = { [key] = value } })
      )
    end
  end
  for _, key in ipairs({ 'heartbeat_interval', 'takeover_threshold', 'sync_cooldown' }) do
    H.contains(
      'sync.coordination.' .. key .. ': must be a positive number of seconds',
      err_of({ sync = { coordination = { [key] = 0 } } })
    )
  end
  H.contains(
    'sync.startup_delay: must be zero or a positive number of seconds',
    err_of({ sync = { startup_delay = -1 } })
  )
  H.eq('sync.interval: must be a finite number of seconds', err_of({ sync = { interval = 0 / 0 } }))
  H.eq(
    'sync.interval: must be a finite number of seconds',
    err_of({ sync = { interval = math.huge } })
  )
  H.contains('sync.timeout: must be at most', err_of({ sync = { timeout = 2e9 } }))
end)

H.test('heartbeat_interval must be below takeover_threshold', function()
  H.eq(
    'sync.coordination.heartbeat_interval: must be less than '
      .. 'sync.coordination.takeover_threshold (60 >= 60)',
    err_of({ sync = { coordination = { heartbeat_interval = 60 } } })
  )
  H.contains(
    'sync.coordination.heartbeat_interval: must be less than',
    err_of({ sync = { coordination = { heartbeat_interval = 5, takeover_threshold = 1 } } })
  )
end)

H.test('the sync command must be a non-empty list of strings', function()
  H.contains('sync.command: must not be empty', err_of({ sync = { command = {} } }))
  H.contains(
    'sync.command: expected a list of strings',
    err_of({ sync = { command = 'mbsync -a' } })
  )
  H.contains(
    'sync.command: expected a list of strings',
    err_of({ sync = { command = { 'mbsync', [3] = '-a' } } })
  )
  H.contains(
    'sync.command: expected a list of strings',
    err_of({ sync = { command = { 'mbsync', flag = '-a' } } })
  )
  H.eq(
    'sync.command: element 2 must be a string, got number',
    err_of({ sync = { command = { 'mbsync', 1 } } })
  )
  H.eq(
    'sync.command: the program name (element 1) is empty',
    err_of({ sync = { command = { '', '-a' } } })
  )
  local c = assert(config.validate({ sync = { command = { 'true' } } }))
  H.eq({ 'true' }, c.sync.command)
end)

H.test('the first problem is reported, unknown keys first', function()
  H.eq('bogus: unknown option', err_of({ bogus = 1, debug = 'x' }))
  H.eq('debug: expected a boolean, got string', err_of({ debug = 'x', sync = { interval = -1 } }))
end)

H.test('sync.push: enabled is auto, true or false', function()
  for _, value in ipairs({ 'auto', true, false }) do
    local c = assert(config.validate({ sync = { push = { enabled = value } } }))
    H.eq(value, c.sync.push.enabled)
  end
  H.eq(
    "sync.push.enabled: expected 'auto', true or false, got \"yes\"",
    err_of({ sync = { push = { enabled = 'yes' } } })
  )
  H.eq(
    "sync.push.enabled: expected 'auto', true or false, got number",
    err_of({ sync = { push = { enabled = 1 } } })
  )
  H.eq('sync.push: expected a table, got boolean', err_of({ sync = { push = true } }))
  H.eq(
    'sync.push.min_gapp: unknown option (did you mean min_gap?)',
    err_of({ sync = { push = { min_gapp = 1 } } })
  )
end)

H.test('sync.adaptive: a boolean and two positive bounds, min <= max', function()
  local c = assert(config.validate({
    sync = { adaptive = { enabled = true, min_interval = 60, max_interval = 60 } },
  }))
  H.eq({ enabled = true, min_interval = 60, max_interval = 60 }, c.sync.adaptive)
  H.eq(
    'sync.adaptive.enabled: expected a boolean, got string',
    err_of({ sync = { adaptive = { enabled = 'yes' } } })
  )
  H.eq(
    'sync.adaptive.min_interval: must be a positive number of seconds, got 0',
    err_of({ sync = { adaptive = { min_interval = 0 } } })
  )
  H.eq(
    'sync.adaptive.max_interval: expected a number of seconds, got string',
    err_of({ sync = { adaptive = { max_interval = '1h' } } })
  )
  H.eq(
    'sync.adaptive.min_interval: must be at most sync.adaptive.max_interval (600 > 300)',
    err_of({ sync = { adaptive = { min_interval = 600, max_interval = 300 } } })
  )
  H.eq(
    'sync.adaptive.max_intervall: unknown option (did you mean max_interval?)',
    err_of({ sync = { adaptive = { max_intervall = 1 } } })
  )
end)

H.test('sync.push.mailboxes: a non-empty list of distinct, non-empty strings', function()
  local c = assert(config.validate({ sync = { push = { mailboxes = { 'INBOX', 'Work/Ops' } } } }))
  H.eq({ 'INBOX', 'Work/Ops' }, c.sync.push.mailboxes)
  local function mailboxes_err(value)
    return err_of({ sync = { push = { mailboxes = value } } })
  end
  H.eq(
    "sync.push.mailboxes: expected a list of mailbox names such as { 'INBOX' }, got string",
    mailboxes_err('INBOX')
  )
  H.contains('sync.push.mailboxes: expected a list', mailboxes_err({ 'INBOX', [3] = 'Sent' }))
  H.contains('sync.push.mailboxes: expected a list', mailboxes_err({ inbox = 'INBOX' }))
  H.eq('sync.push.mailboxes: must not be empty: give at least one mailbox', mailboxes_err({}))
  H.eq(
    'sync.push.mailboxes: element 2 must be a string, got number',
    mailboxes_err({ 'INBOX', 2 })
  )
  H.eq('sync.push.mailboxes: element 1 is empty', mailboxes_err({ '' }))
  H.eq(
    'sync.push.mailboxes: element 2 repeats "INBOX"',
    mailboxes_err({ 'INBOX', 'INBOX' })
  )
end)

H.test('sync.push.min_gap: zero or more seconds, fractional allowed', function()
  H.eq(0, assert(config.validate({ sync = { push = { min_gap = 0 } } })).sync.push.min_gap)
  H.eq(0.25, assert(config.validate({ sync = { push = { min_gap = 0.25 } } })).sync.push.min_gap)
  H.eq(
    'sync.push.min_gap: must be zero or a positive number of seconds, got -1',
    err_of({ sync = { push = { min_gap = -1 } } })
  )
  H.eq(
    'sync.push.min_gap: expected a number of seconds, got string',
    err_of({ sync = { push = { min_gap = '2' } } })
  )
  H.eq(
    'sync.push.min_gap: must be a finite number of seconds',
    err_of({ sync = { push = { min_gap = 0 / 0 } } })
  )
end)

H.test('sync.coordination.priority: any finite number, negative and fractional allowed', function()
  local function priority(value)
    local resolved = assert(config.validate({ sync = { coordination = { priority = value } } }))
    return resolved.sync.coordination.priority
  end
  H.eq(1, priority(1))
  H.eq(-2.5, priority(-2.5))
  H.eq(
    'sync.coordination.priority: expected a number, got string',
    err_of({ sync = { coordination = { priority = 'high' } } })
  )
  H.eq(
    'sync.coordination.priority: must be a finite number between -1e9 and 1e9, got inf',
    err_of({ sync = { coordination = { priority = math.huge } } })
  )
end)

H.test('sync.push.mbsyncrc: a path, ~ expanded and made absolute', function()
  with_env({ HOME = '/home/tester' }, function()
    local function resolved(path)
      return assert(config.validate({ sync = { push = { mbsyncrc = path } } })).sync.push.mbsyncrc
    end
    H.eq('/home/tester/.mbsyncrc', resolved('~/.mbsyncrc'))
    H.eq('/etc/isyncrc', resolved('/etc/isyncrc'))
    H.eq(vim.fn.getcwd() .. '/mail/mbsyncrc', resolved('mail/mbsyncrc'))
    H.eq(nil, assert(config.validate({})).sync.push.mbsyncrc)
  end)
  H.eq('sync.push.mbsyncrc: must not be empty', err_of({ sync = { push = { mbsyncrc = '' } } }))
  H.eq(
    'sync.push.mbsyncrc: expected a string, got boolean',
    err_of({ sync = { push = { mbsyncrc = true } } })
  )
end)

-- The --config payload as the host reads it: JSON text, decoded.
local function host_payload(opts)
  local text = vim.fn.json_encode(config.host_json(assert(config.validate(opts)), 'nvim_1_2'))
  return vim.fn.json_decode(text), text
end

H.test('host JSON: sync.push as the push contract has it, mbsyncrc absent when nil', function()
  local payload, text = host_payload({})
  H.eq({ enabled = 'auto', mailboxes = { 'INBOX' }, min_gap = 2 }, payload.sync.push)
  H.contains('"mailboxes":["INBOX"]', (text:gsub('%s', '')), 'a JSON array')
  H.truthy(not text:find('mbsyncrc', 1, true), 'no mbsyncrc key in ' .. text)
  payload = host_payload({
    sync = {
      push = { enabled = false, mbsyncrc = '/m/rc', mailboxes = { 'A', 'B' }, min_gap = 0.5 },
    },
  })
  H.eq(
    { enabled = false, mbsyncrc = '/m/rc', mailboxes = { 'A', 'B' }, min_gap = 0.5 },
    payload.sync.push
  )
  H.eq(true, host_payload({ sync = { push = { enabled = true } } }).sync.push.enabled)
end)

H.test('host JSON: the instance facts and the resolved options, without binary', function()
  local payload = host_payload({ binary = '/opt/hc', sync = { interval = 60 } })
  H.eq('nvim_1_2', payload.instance_id)
  H.eq(vim.fn.getpid(), payload.nvim_pid)
  local v = vim.version()
  H.eq(string.format('%d.%d.%d', v.major, v.minor, v.patch), payload.nvim_version)
  H.eq(nil, payload.binary)
  H.eq(60, payload.sync.interval)
  H.eq(
    { 'debug', 'instance_id', 'log_file', 'nvim_pid', 'nvim_version', 'state_file', 'sync' },
    (function()
      local keys = vim.tbl_keys(payload)
      table.sort(keys)
      return keys
    end)()
  )
end)

H.test('plugin_root is the repository root', function()
  H.eq(H.root, config.plugin_root())
end)

H.test('find_binary: an explicit binary is the only candidate', function()
  local path, err = config.find_binary(assert(config.validate({ binary = '/nonexistent/hc' })))
  H.eq(nil, path)
  H.contains('/nonexistent/hc', err)
  path, err = config.find_binary(assert(config.validate({ binary = 'no-such-program-hc' })))
  H.eq(nil, path)
  H.contains('no-such-program-hc', err)
  H.eq('/bin/sh', config.find_binary(assert(config.validate({ binary = '/bin/sh' }))))
  H.eq(vim.fn.exepath('sh'), config.find_binary(assert(config.validate({ binary = 'sh' }))))
end)

H.test('find_binary: build/ then PATH, else how to build', function()
  local built = H.root .. '/build/himalaya-coord'
  local empty = vim.fn.tempname()
  vim.fn.mkdir(empty, 'p')
  with_env({ PATH = empty }, function()
    local path, err = config.find_binary(assert(config.validate({})))
    if vim.fn.executable(built) == 1 then
      H.eq(built, path)
    else
      H.eq(nil, path)
      H.contains('host binary not found', err)
      H.contains(built, err)
      H.contains('cmake -S . -B build', err)
    end
  end)
end)


H.test('sync.away: after is positive seconds or false, interval positive seconds', function()
  local c = assert(config.validate({ sync = { away = { after = 1.5, interval = 4 } } }))
  H.eq({ after = 1.5, interval = 4 }, c.sync.away)
  H.eq(false, assert(config.validate({ sync = { away = { after = false } } })).sync.away.after)
  H.eq(
    'sync.away.after: expected a number of seconds or false, got true',
    err_of({ sync = { away = { after = true } } })
  )
  H.eq(
    'sync.away.after: must be a positive number of seconds, got 0',
    err_of({ sync = { away = { after = 0 } } })
  )
  H.eq(
    'sync.away.interval: must be a positive number of seconds, got -1',
    err_of({ sync = { away = { interval = -1 } } })
  )
  H.eq(
    'sync.away.afterr: unknown option (did you mean after?)',
    err_of({ sync = { away = { afterr = 1 } } })
  )
end)

H.finish()
