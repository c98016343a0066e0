-- sync.channels and sync.max_parallel (SPEC §11): the option checks, and the names checked against
-- the mbsync configuration at setup() (lua/himalaya_coord/mbsync_names.lua).
local H = dofile(vim.fn.fnamemodify(debug.getinfo(1, 'S').source:sub(2), ':p:h') .. '/harness.lua')
H.start('channels')

local config = require('himalaya_coord.config')
local names = require('himalaya_coord.mbsync_names')

local dir = vim.fn.tempname()
vim.fn.mkdir(dir, 'p')
local rc = dir .. '/mbsyncrc'
vim.fn.writefile({
  '# two accounts',
  'IMAPAccount home',
  'Host imap.example.org',
  '',
  'Channel inbox',
  'Far :home-remote:INBOX',
  'Near :home-local:INBOX',
  '',
  'Channel "with space"',
  'Far :home-remote:Lists',
  '',
  'Group work',
  'Channel work-inbox',
  'Channel work-sent',
  '',
  'channel archive',
  'Far :home-remote:Archive',
}, rc)

local function sync_with(channels, extra)
  local sync = { command = { 'mbsync', '-c', rc, '-a' }, channels = channels }
  for k, v in pairs(extra or {}) do
    sync[k] = v
  end
  return { sync = sync }
end

local function err_of(opts)
  local resolved, err = config.validate(opts)
  H.eq(nil, resolved, 'resolved config for ' .. vim.inspect(opts))
  return err
end

H.test('channels and groups of the file are accepted, in order, with max_parallel', function()
  local resolved = assert(config.validate(sync_with({
    { name = 'inbox', interval = 120 },
    { name = 'work', interval = 300 },
    { name = 'with space', interval = 900 },
    { name = 'archive', interval = 3600 },
  }, { max_parallel = 3 })))
  H.eq('inbox', resolved.sync.channels[1].name)
  H.eq(3600, resolved.sync.channels[4].interval)
  H.eq(3, resolved.sync.max_parallel)
end)

H.test('an unknown name is an error that names it and the file', function()
  local err = err_of(sync_with({
    { name = 'inbox', interval = 120 },
    { name = 'spam', interval = 60 },
  }))
  H.eq(string.format('sync.channels[2].name: "spam" is not a Channel or Group of %s', rc), err)
  -- A Channel line inside a Group names a member, not a channel of its own.
  err = err_of(sync_with({ { name = 'work-inbox', interval = 60 } }))
  H.truthy(err:find('"work-inbox" is not a Channel or Group', 1, true), err)
end)

H.test('an unreadable configuration is named', function()
  local err = err_of({
    sync = {
      command = { 'mbsync', '-a' },
      push = { mbsyncrc = dir .. '/missing' },
      channels = { { name = 'inbox', interval = 60 } },
    },
  })
  local expected = 'sync.channels: cannot read the mbsync configuration ' .. dir .. '/missing'
  H.truthy(err:find(expected, 1, true), err)
end)

H.test('malformed entries name their index and key', function()
  H.eq(
    "sync.channels: expected a list such as { { name = 'inbox', interval = 120 } }, got string",
    err_of({ sync = { channels = 'inbox' } })
  )
  H.eq(
    'sync.channels[1].interval: expected a positive number of seconds, got nil',
    err_of({ sync = { channels = { { name = 'inbox' } } } })
  )
  H.eq(
    'sync.channels[1].name: expected the name of an mbsync channel or group',
    err_of({ sync = { channels = { { interval = 5 } } } })
  )
  H.eq(
    'sync.channels[2].name: "inbox" is listed twice',
    err_of(sync_with({ { name = 'inbox', interval = 60 }, { name = 'inbox', interval = 90 } }))
  )
  H.eq(
    'sync.channels[1].every: unknown option (expected name and interval)',
    err_of({ sync = { channels = { { name = 'inbox', interval = 60, every = 2 } } } })
  )
  H.eq(
    'sync.max_parallel: expected a whole number from 1 to 64, got 1.5',
    err_of({ sync = { max_parallel = 1.5 } })
  )
  H.eq(
    'sync.max_parallel: expected a whole number from 1 to 64, got 0',
    err_of({ sync = { max_parallel = 0 } })
  )
end)

H.test('no channels: the mbsync configuration is not read at all', function()
  local resolved = assert(config.validate({ sync = { push = { mbsyncrc = dir .. '/missing' } } }))
  H.eq({}, resolved.sync.channels)
end)

H.test('the file mbsync reads: -c forms, then mbsyncrc, then the defaults', function()
  H.eq('/x/rc', names.config_argument({ 'mbsync', '-c', '/x/rc', '-a' }))
  H.eq('/x/rc', names.config_argument({ 'mbsync', '-Vc', '/x/rc', 'inbox' }))
  H.eq('/x/rc', names.config_argument({ 'mbsync', '--config=/x/rc', '-a' }))
  H.eq('/x/rc', names.config_argument({ 'mbsync', '--config', '/x/rc' }))
  H.eq(nil, names.config_argument({ 'mbsync', 'inbox', '-c', '/x/rc' }))
  local id = function(p)
    return p
  end
  H.eq('/x/rc', names.locate({ 'mbsync', '-c', '/x/rc' }, '/y/rc', id))
  H.eq('/y/rc', names.locate({ 'mbsync', '-a' }, '/y/rc', id))
  H.eq('/y/rc', names.locate({ 'my-wrapper', '-c', '/x/rc' }, '/y/rc', id))
end)

H.test('checkhealth: the channels asked for, and the ones this instance runs', function()
  local lines = {}
  local out = {}
  for _, level in ipairs({ 'ok', 'info', 'warn', 'fail' }) do
    out[level] = function(text)
      table.insert(lines, level .. ': ' .. text)
    end
  end
  local health = require('himalaya_coord.health_channels')
  local cfg = assert(config.validate(sync_with({
    { name = 'inbox', interval = 120 },
    { name = 'archive', interval = 3600 },
  })))
  health.check(cfg, {
    instance = { id = 'nvim_1_2' },
    channels = { { name = 'inbox', owner = 'nvim_1_2' }, { name = 'archive', owner = 'nvim_3_4' } },
  }, out)
  H.eq({
    'ok: channels: inbox every 120s, archive every 3600s; at most 2 at once in the fleet',
    'info: this instance runs: inbox',
  }, lines)
  lines = {}
  health.check(assert(config.validate({})), nil, out)
  H.eq({ 'info: channels: none (sync.command runs everything on one schedule)' }, lines)
end)

H.finish()
