-- The push section of :checkhealth himalaya_coord (SPEC §10), against tests/lua/fake_host.py,
-- whose push facts (the status's `push` and the answer to push_check) each test writes to the
-- file $FAKE_HOST_PUSH while the host runs.
local H = dofile(vim.fn.fnamemodify(debug.getinfo(1, 'S').source:sub(2), ':p:h') .. '/harness.lua')
H.start('health push')

local hc = require('himalaya_coord')
local health_push = require('himalaya_coord.health_push')
local uv = vim.loop
H.record_notifications()

local fake = H.dir .. '/fake_host.py'
local facts_file = vim.fn.tempname()
local check_log = vim.fn.tempname()
vim.env.FAKE_HOST_MODE = 'normal'
vim.env.FAKE_HOST_PUSH = facts_file
vim.env.FAKE_HOST_PUSH_LOG = check_log

-- The fake host answers within milliseconds; the no-answer test waits this long.
local CHECK_TIMEOUT_MS = 2000
health_push.timeout_ms = CHECK_TIMEOUT_MS

-- Writes the fake host's push facts: `status` (the status's push table, or vim.NIL for none)
-- and `check` (the push_check result, or vim.NIL for no answer); nil keeps the fake's default.
local function push_facts(facts)
  vim.fn.writefile({ vim.fn.json_encode(facts) }, facts_file)
end

local function checks_sent()
  if vim.fn.filereadable(check_log) == 0 then
    return 0
  end
  return #vim.fn.readfile(check_log)
end

-- Starts the fake host with sync.push.enabled = `enabled` (a restart when it changes).
local function with_push_enabled(enabled)
  hc.setup({ binary = fake, sync = { interval = 60, push = { enabled = enabled } } })
  H.eq(true, hc.wait_ready(3000))
end

-- The items of the push section of :checkhealth, as 'LEVEL: msg' lines (see harness.lua).
local function push_section()
  local text = H.checkhealth('himalaya_coord')
  local from = text:find('himalaya-coord: push', 1, true)
  H.truthy(from, 'a push section in\n' .. text)
  local items = {}
  for line in text:sub(from):gmatch('[^\n]+') do
    if line:match('^%u+: ') then
      table.insert(items, line)
    end
  end
  return items, text:sub(from)
end

local function levels_of(items)
  local levels = {}
  for _, item in ipairs(items) do
    table.insert(levels, item:match('^(%u+):'))
  end
  return levels
end

H.test('enabled = false: one INFO line, and no push check is sent', function()
  push_facts({})
  with_push_enabled(false)
  local before = checks_sent()
  local items = push_section()
  H.eq({ 'INFO: push is off (sync.push.enabled = false): the timer alone syncs' }, items)
  H.eq(before, checks_sent(), 'push checks sent')
end)

H.test("'auto', logged in and IDLE offered: OK naming server, user and mailbox", function()
  push_facts({
    check = {
      enabled = 'auto',
      ok = true,
      idle = true,
      server = 'imap.example.org:993',
      user = 'bob',
      mailbox = 'Work',
      config = '/home/bob/.mbsyncrc',
      message = 'logged in',
      pass = 'hunter2-secret',
    },
  })
  with_push_enabled('auto')
  local before = checks_sent()
  local items, section = push_section()
  H.eq(before + 1, checks_sent(), 'push checks sent')
  H.eq({
    'OK: state: Idling on 127.0.0.1:993 (INBOX), last server change 3 seconds ago',
    'OK: logged in to imap.example.org:993 as bob; Work can be watched with IDLE',
    'INFO: mbsync configuration: /home/bob/.mbsyncrc',
  }, items)
  H.truthy(not section:find('hunter2', 1, true), 'no password in the report')
end)

H.test("'auto', logged in but no IDLE: one INFO line, the timer alone syncs", function()
  push_facts({
    status = { state = 'off', why = 'the server does not offer IDLE', mailboxes = { 'INBOX' } },
    check = { enabled = 'auto', ok = true, idle = false, server = 'mail.test:143', user = 'a' },
  })
  local items = push_section()
  H.eq({
    'INFO: state: Off (the server does not offer IDLE)',
    'INFO: mail.test:143 does not offer IDLE, so push is off: the timer alone syncs',
  }, items)
end)

H.test('enabled = true, logged in but no IDLE: one WARNING line', function()
  with_push_enabled(true)
  local items, section = push_section()
  H.eq({ 'INFO', 'WARNING' }, levels_of(items))
  H.eq(
    'WARNING: mail.test:143 does not offer IDLE, so push is off: the timer alone syncs',
    items[2]
  )
  H.contains('sync.push.enabled = false', section)
end)

H.test('enabled = true, the check failed: WARNING with the host message', function()
  push_facts({
    status = { state = 'off', why = 'no usable account in the mbsync configuration' },
    check = {
      enabled = true,
      ok = false,
      mailbox = 'INBOX',
      message = 'no IMAPAccount in /home/a/.mbsyncrc',
    },
  })
  local items = push_section()
  H.eq({
    'INFO: state: Off (no usable account in the mbsync configuration)',
    'WARNING: the push check failed: no IMAPAccount in /home/a/.mbsyncrc',
  }, items)
end)

H.test("'auto', the check failed: INFO with the host message", function()
  with_push_enabled('auto')
  local items = push_section()
  H.eq({
    'INFO: state: Off (no usable account in the mbsync configuration)',
    'INFO: push is off: no IMAPAccount in /home/a/.mbsyncrc '
      .. "(sync.push.enabled = 'auto'; the timer alone syncs)",
  }, items)
end)

H.test('no answer to the push check: a WARNING, after a bounded wait', function()
  push_facts({ check = vim.NIL })
  local started = uv.hrtime()
  local items = push_section()
  local took = (uv.hrtime() - started) / 1e6
  H.truthy(took >= CHECK_TIMEOUT_MS and took < CHECK_TIMEOUT_MS + 3000, 'took ' .. took .. ' ms')
  H.eq({
    'OK: state: Idling on 127.0.0.1:993 (INBOX), last server change 3 seconds ago',
    'WARNING: no answer to the push check: host did not answer within '
      .. CHECK_TIMEOUT_MS
      .. ' ms',
  }, items)
end)

H.test('the state: Connecting, Reconnecting, Off on a secondary, none from an old host', function()
  local function first_item(status)
    push_facts({ status = status })
    return push_section()[1]
  end
  H.eq(
    'INFO: state: Connecting to 10.0.0.1:993 (INBOX, Work)',
    first_item({ state = 'connecting', server = '10.0.0.1:993', mailboxes = { 'INBOX', 'Work' } })
  )
  H.eq(
    'INFO: state: Reconnecting to 10.0.0.1:993 in 12 seconds; the timer syncs meanwhile',
    first_item({ state = 'reconnecting', server = '10.0.0.1:993', retry_in = 12.4 })
  )
  H.eq('INFO: state: Off (not the primary)', first_item({ state = 'off', why = 'not the primary' }))
  H.eq(
    'OK: state: Idling on the server (INBOX), no server change yet',
    first_item({ state = 'idling', mailboxes = { 'INBOX' } })
  )
  H.eq('INFO: the host reports no push state (it may predate push)', first_item(vim.NIL))
  with_push_enabled(true)
  H.eq(
    'WARNING: state: Reconnecting to 10.0.0.1:993 in 2 minutes; the timer syncs meanwhile',
    first_item({ state = 'reconnecting', server = '10.0.0.1:993', retry_in = 150 })
  )
end)

H.test('a hung host: no push check is waited for', function()
  vim.env.FAKE_HOST_MODE = 'hang'
  H.eq(true, hc.restart())
  H.eq(true, hc.wait_ready(3000))
  -- A push check would wait 20 s here; the ping of the host section waits 1 s.
  health_push.timeout_ms = 20000
  local started = uv.hrtime()
  local items = push_section()
  local took = (uv.hrtime() - started) / 1e6
  health_push.timeout_ms = CHECK_TIMEOUT_MS
  H.eq({ 'WARNING: no answer from the host, so push cannot be checked' }, items)
  H.truthy(took < 10000, 'checkhealth took ' .. took .. ' ms')
  vim.env.FAKE_HOST_MODE = 'normal'
end)

hc._stop()
H.finish()
