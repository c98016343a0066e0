-- The Lua side against the real host, when one is built: the contract of SPEC §4 end to end.
-- The binary is $HIMALAYA_COORD_BINARY, else <repo>/build/himalaya-coord; run.sh skips this
-- spec when neither exists. The sync command is `true`, so nothing real is synced.
local H = dofile(vim.fn.fnamemodify(debug.getinfo(1, 'S').source:sub(2), ':p:h') .. '/harness.lua')
H.start('real host')

local hc = require('himalaya_coord')
local seen = H.record_notifications()
local binary = os.getenv('HIMALAYA_COORD_BINARY')
if not binary or binary == '' then
  binary = H.root .. '/build/himalaya-coord'
end

-- An empty mbsync configuration: push finds no account, and never reaches for the real
-- ~/.mbsyncrc (or its server) of whoever runs the tests.
local mbsyncrc = vim.fn.tempname()
vim.fn.writefile({}, mbsyncrc)

local opts = {
  binary = binary,
  sync = {
    command = { 'true' },
    startup_delay = 0.05,
    coordination = { heartbeat_interval = 0.1, takeover_threshold = 0.5, sync_cooldown = 0.2 },
    push = { mbsyncrc = mbsyncrc },
  },
}

H.test('the host accepts the --config payload and becomes ready', function()
  hc.setup(opts)
  H.eq(true, hc.wait_ready(5000))
  H.eq(2, vim.fn.exists(':HimalayaSyncStatus'))
  H.eq(2, vim.fn.exists(':HimalayaSyncNow'))
  H.truthy(hc._info().host_version, 'host version from _host_ready')
end)

H.test('status() has the report and the instance facts', function()
  local status, err = hc.status()
  H.truthy(status, 'status: ' .. tostring(err))
  H.eq('# Himalaya Sync Coordination Status', status.lines[1])
  H.truthy(vim.tbl_contains(status.lines, '## Current Instance'), 'Current Instance section')
  H.truthy(
    vim.tbl_contains(status.lines, '  Instance ID: ' .. hc.instance_id()),
    'Instance ID line'
  )
  H.truthy(vim.tbl_contains(status.lines, '  PID: ' .. vim.fn.getpid()), 'PID line')
  H.eq(hc.instance_id(), status.instance.id)
  H.eq(vim.fn.getpid(), status.instance.pid)
  H.truthy(type(status.instance.role) == 'string', 'role')
end)

H.test('ping answers quickly', function()
  local rtt, err = hc._ping()
  H.truthy(rtt, 'ping: ' .. tostring(err))
  H.truthy(rtt < 500, 'round trip ' .. rtt .. ' ms')
end)

H.test('push_check: the real watcher reads the empty configuration and says why push is off', function()
  local result, err = hc._push_check(20000)
  H.truthy(result, 'push_check: ' .. tostring(err))
  H.eq(false, result.ok)
  H.eq('auto', result.enabled)
  H.eq('the mbsync configuration has no IMAP account', result.message)
  H.eq(mbsyncrc, result.config)
end)

H.test('status() has the push section, off on this instance with its reason', function()
  local status = hc.status()
  H.truthy(status and status.push, 'push facts')
  H.truthy(vim.tbl_contains(status.lines, '## Push'), 'Push section')
  H.eq('off', status.push.state)
  H.truthy(type(status.push.why) == 'string' and status.push.why ~= '', 'a reason')
end)

-- run.sh points DBUS_SYSTEM_BUS_ADDRESS at nothing: the primary's reader process
-- (himalaya-coord-session) says so, once it has started.
H.test('status() and checkhealth: the desktop session is not read without a system bus', function()
  local status
  vim.wait(5000, function()
    status = hc.status()
    local d = status and status.desktop_session
    return type(d) == 'table' and type(d.problem) == 'string' and d.problem:find('no system bus')
  end, 20)
  local desktop = status and status.desktop_session
  H.truthy(type(desktop) == 'table', 'desktop_session facts')
  H.eq('', desktop.session)
  H.eq(false, desktop.away)
  H.contains('no system bus', desktop.problem)
  H.contains('desktop session: not read (no system bus', H.checkhealth('himalaya_coord'))
end)

H.test('checkhealth runs against the real host', function()
  local text = H.checkhealth('himalaya_coord')
  H.contains('OK: version: himalaya-coord', text)
  H.contains('answers: round trip', text)
  H.truthy(not text:find('stack traceback'), 'no Lua error')
end)

H.test('other options restart the host; it is ready again', function()
  local job = hc.host_job()
  local changed = vim.deepcopy(opts)
  changed.sync.interval = 3600
  hc.setup(changed)
  H.truthy(hc.host_job() ~= job, 'a new job')
  H.eq(true, hc.wait_ready(5000))
  H.truthy(hc.status(), 'the new host answers')
end)

H.test('no warnings were shown', function()
  local warnings = {}
  for _, n in ipairs(seen) do
    if n.level >= vim.log.levels.WARN then
      table.insert(warnings, n.msg)
    end
  end
  H.eq({}, warnings)
end)

H.finish()
