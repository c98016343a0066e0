-- The editor side of SPEC §9 without a host: what _event() and _sync_state() (the host's calls)
-- do to the User autocmds, last_event() and statusline(). The host's side of the protocol is
-- tested in host_spec.lua (fake host), real_host_spec.lua and tests/e2e/events_test.cpp.
local H = dofile(vim.fn.fnamemodify(debug.getinfo(1, 'S').source:sub(2), ':p:h') .. '/harness.lua')
H.start('events')

local hc = require('himalaya_coord')
local seen = H.record_notifications()
local has_data = vim.fn.has('nvim-0.8') == 1

-- Every User event as a handler sees it: the name, and its data as a handler can read it on this
-- version (args.data from 0.8 on; last_event() on 0.7).
local fired = {}
vim.api.nvim_create_autocmd('User', {
  pattern = { 'HimalayaSyncStarted', 'HimalayaSyncDone', 'HimalayaRoleChanged' },
  callback = function(args)
    local data = args.data
    if not has_data then
      data = hc.last_event(args.match)
    end
    table.insert(fired, { name = args.match, data = data })
  end,
})

-- _event() and _sync_state() act on the next turn of the loop (vim.schedule).
local function settle()
  local done = false
  vim.schedule(function()
    done = true
  end)
  H.truthy(
    vim.wait(1000, function()
      return done
    end, 1),
    'the loop turned'
  )
end

-- statusline() reads the wall clock with os.time(); the ages below are exact against this one.
local NOW = 1700000000
local real_time = os.time
os.time = function(...)
  if select('#', ...) > 0 then
    return real_time(...)
  end
  return NOW
end

local function state(fields)
  H.eq(true, hc._sync_state(fields))
  settle()
end

H.test('without a host: statusline() is mail off and no event has data', function()
  H.eq('mail off', hc.statusline())
  H.eq(nil, hc.last_event('HimalayaSyncDone'))
end)

H.test('statusline(): mail <age> after a successful sync, in s, m and h', function()
  local now = NOW
  state({ role = 'Secondary', syncing = false, last_started = now - 5, outcome = 'ok' })
  H.eq('mail 5s', hc.statusline())
  state({ role = 'Secondary', syncing = false, last_started = now - 185, outcome = 'ok' })
  H.eq('mail 3m', hc.statusline())
  state({ role = 'Primary Coordinator', syncing = false, last_started = now - 7300 })
  H.eq('mail 2h', hc.statusline())
end)

H.test('statusline(): mail syncing while a sync of the fleet runs', function()
  hc._event('HimalayaSyncStarted', { instance_id = 'nvim_1_2', trigger = 'auto', started = NOW })
  settle()
  H.eq('mail syncing', hc.statusline())
  hc._event('HimalayaSyncDone', {
    instance_id = 'nvim_1_2',
    trigger = 'auto',
    started = NOW,
    outcome = 'ok',
    duration = 0.5,
    message = '',
  })
  settle()
  H.eq('mail 0s', hc.statusline())
end)

H.test('statusline(): mail syncing until every channel sync running in parallel is done', function()
  local function event(name, id, channel, started)
    local data = { instance_id = id, trigger = 'auto', started = started, channels = { channel } }
    if name == 'HimalayaSyncDone' then
      data.outcome, data.duration, data.message = 'ok', 1, ''
    end
    hc._event(name, data)
    settle()
  end
  state({ role = 'Secondary', syncing = false })
  event('HimalayaSyncStarted', 'nvim_1_2', 'inbox', NOW - 3)
  event('HimalayaSyncStarted', 'nvim_3_4', 'archive', NOW - 2)
  event('HimalayaSyncDone', 'nvim_1_2', 'inbox', NOW - 3)
  H.eq('mail syncing', hc.statusline())
  H.eq({ 'inbox' }, hc.last_event('HimalayaSyncDone').channels)
  event('HimalayaSyncDone', 'nvim_3_4', 'archive', NOW - 2)
  H.eq('mail 2s', hc.statusline())
  -- A start after an end that was never heard (the end replaced in the file before anyone read
  -- it): the instance's next sync ends the earlier one too.
  event('HimalayaSyncStarted', 'nvim_1_2', 'inbox', NOW - 1)
  event('HimalayaSyncStarted', 'nvim_1_2', 'sent', NOW)
  event('HimalayaSyncDone', 'nvim_1_2', 'sent', NOW)
  H.eq('mail 0s', hc.statusline())
end)

H.test('statusline(): mail failed <age> after a failed or timed-out sync', function()
  state({ role = 'Secondary', syncing = false })
  local started = NOW - 130
  hc._event('HimalayaSyncDone', {
    instance_id = 'nvim_1_2',
    trigger = 'auto',
    started = started,
    outcome = 'failed',
    duration = 1.5,
    message = 'exit code 1',
  })
  settle()
  H.eq('mail failed 2m', hc.statusline())
  hc._event('HimalayaSyncDone', {
    instance_id = 'nvim_1_2',
    trigger = 'auto',
    started = NOW - 20,
    outcome = 'timed_out',
    duration = 10,
    message = 'timed out',
  })
  settle()
  H.eq('mail failed 20s', hc.statusline())
  hc._event('HimalayaSyncDone', {
    instance_id = 'nvim_1_2',
    trigger = 'manual',
    started = NOW - 1,
    outcome = 'ok',
    duration = 0.5,
    message = '',
  })
  settle()
  H.eq('mail 1s', hc.statusline())
end)

H.test('statusline(): mail off when Uncoordinated, and when the host is gone', function()
  hc._event('HimalayaRoleChanged', { role = 'Uncoordinated', previous = 'Secondary' })
  settle()
  H.eq('mail off', hc.statusline())
  hc._event('HimalayaRoleChanged', { role = 'Secondary', previous = 'Uncoordinated' })
  settle()
  H.truthy(hc.statusline() ~= 'mail off', 'back on: ' .. hc.statusline())
  require('himalaya_coord.events')._offline()
  H.eq('mail off', hc.statusline())
end)

H.test('statusline(): mail never before any sync is known', function()
  state({ role = 'Secondary', syncing = false })
  H.eq('mail never', hc.statusline())
end)

H.test("the 'statusline' expression of the help evaluates", function()
  state({ role = 'Secondary', syncing = false, last_started = NOW - 185, outcome = 'ok' })
  local expr = "%{v:lua.require'himalaya_coord'.statusline()}"
  local out = vim.api.nvim_eval_statusline(expr, { fillchar = ' ' })
  H.eq('mail 3m', out.str)
end)

H.test('each event fires User <name> once, with its data, in order', function()
  H.clear(fired)
  local started = { instance_id = 'nvim_10_20', trigger = 'manual', started = 1700000000.25 }
  local done = {
    instance_id = 'nvim_10_20',
    trigger = 'manual',
    started = 1700000000.25,
    outcome = 'ok',
    duration = 0.75,
    message = '',
  }
  H.eq(true, hc._event('HimalayaSyncStarted', started))
  H.eq(true, hc._event('HimalayaSyncDone', done))
  local role = { role = 'Primary Coordinator', previous = 'Secondary' }
  H.eq(true, hc._event('HimalayaRoleChanged', role))
  settle()
  H.eq({
    { name = 'HimalayaSyncStarted', data = started },
    { name = 'HimalayaSyncDone', data = done },
    { name = 'HimalayaRoleChanged', data = role },
  }, fired)
end)

H.test('last_event() returns the latest data of each event, as a copy', function()
  H.eq('ok', hc.last_event('HimalayaSyncDone').outcome)
  H.eq('Primary Coordinator', hc.last_event('HimalayaRoleChanged').role)
  hc.last_event('HimalayaSyncDone').outcome = 'changed by a caller'
  H.eq('ok', hc.last_event('HimalayaSyncDone').outcome)
  H.eq(nil, hc.last_event('NoSuchEvent'))
end)

H.test('vim.NIL in the data (msgpack nil) reads as nil', function()
  H.clear(fired)
  hc._event('HimalayaSyncDone', {
    instance_id = 'nvim_10_20',
    trigger = 'auto',
    started = 1700000100,
    outcome = 'ok',
    duration = 1,
    message = '',
    new_messages = vim.NIL,
    channels = vim.NIL,
  })
  settle()
  H.eq(1, #fired)
  H.eq(nil, fired[1].data.new_messages)
  H.eq(nil, fired[1].data.channels)
  H.eq(nil, hc.last_event('HimalayaSyncDone').new_messages)
end)

H.test('unknown names and malformed data are refused and fire nothing', function()
  H.clear(fired)
  H.eq(false, hc._event('HimalayaSomethingElse', {}))
  H.eq(false, hc._event('HimalayaSyncDone', 'not a table'))
  H.eq(false, hc._sync_state(42))
  settle()
  H.eq({}, fired)
end)

H.test('a failing handler does not stop the events that follow', function()
  H.clear(fired)
  local id = vim.api.nvim_create_autocmd('User', {
    pattern = 'HimalayaSyncStarted',
    callback = function()
      error('handler bug')
    end,
  })
  hc._event('HimalayaSyncStarted', { instance_id = 'nvim_1_2', trigger = 'auto', started = 1 })
  hc._event('HimalayaSyncDone', {
    instance_id = 'nvim_1_2',
    trigger = 'auto',
    started = 1,
    outcome = 'ok',
    duration = 0,
    message = '',
  })
  settle()
  vim.api.nvim_del_autocmd(id)
  H.eq({ 'HimalayaSyncStarted', 'HimalayaSyncDone' }, { fired[1].name, fired[2].name })
  H.eq(1, hc.last_event('HimalayaSyncDone').started)
  -- Neovim itself reports the handler's error, as for any autocmd.
  H.contains('handler bug', vim.fn.execute('messages'))
  vim.cmd('messages clear')
end)

H.test('no message and no deprecation warning on this Neovim', function()
  H.eq('', (vim.fn.execute('messages'):gsub('^%s+', '')))
end)

H.finish()
