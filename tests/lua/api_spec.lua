-- The public Lua API without a working host: failures must be values and warnings, never hangs.
local H = dofile(vim.fn.fnamemodify(debug.getinfo(1, 'S').source:sub(2), ':p:h') .. '/harness.lua')
H.start('api')

local hc = require('himalaya_coord')
local seen = H.record_notifications()

H.test('instance_id is nvim_<start seconds>_<pid> and stable', function()
  local id = hc.instance_id()
  local seconds, pid = id:match('^nvim_(%d+)_(%d+)$')
  H.truthy(seconds, 'instance id ' .. id)
  H.eq(tostring(vim.fn.getpid()), pid)
  H.truthy(math.abs(os.time() - tonumber(seconds)) < 60, 'start seconds near now')
  H.eq(id, hc.instance_id())
end)

H.test('nothing runs before setup() or the autostart', function()
  H.eq(nil, hc.host_job())
  local status, err = hc.status()
  H.eq(nil, status)
  H.eq('host not running', err)
  H.eq({ '# Himalaya Sync Coordination Status', '', '  Host: host not running' }, hc.status_lines())
end)

H.test("report: the host's duration wording, and statusline()'s short form", function()
  local report = require('himalaya_coord.report')
  local cases = {
    { 0, '0 seconds', '0s' },
    { 0.9, '0 seconds', '0s' },
    { 1, '1 second', '1s' },
    { 1.99, '1 second', '1s' },
    { 5, '5 seconds', '5s' },
    { 59.999, '59 seconds', '59s' },
    { 60, '1 minute', '1m' },
    { 119, '1 minute', '1m' },
    { 120, '2 minutes', '2m' },
    { 3599, '59 minutes', '59m' },
    { 3600, '1 hour', '1h' },
    { 7199, '1 hour', '1h' },
    { 7200, '2 hours', '2h' },
    { 49 * 3600, '49 hours', '49h' },
    { -5, '0 seconds', '0s' },
    { 0 / 0, '0 seconds', '0s' },
  }
  for _, c in ipairs(cases) do
    H.eq(c[2], report.duration(c[1]), tostring(c[1]))
    H.eq(c[3], report.short_duration(c[1]), tostring(c[1]))
  end
end)

H.test('sync_now without a host warns and returns false', function()
  H.eq(false, hc.sync_now())
  H.eq(1, #seen)
  H.eq(vim.log.levels.WARN, seen[1].level)
  H.contains('himalaya-coord: cannot sync: host not running', seen[1].msg)
  seen[1] = nil
end)

H.test('invalid options raise a message naming the key, and nothing starts', function()
  local err = H.raises(function()
    hc.setup({ sync = { interval = 0 } })
  end)
  H.eq('himalaya_coord: sync.interval: must be a positive number of seconds, got 0', err)
  err = H.raises(function()
    hc.setup({ sync = { coordination = { heartbeat_intervall = 1 } } })
  end)
  H.contains('himalaya_coord: sync.coordination.heartbeat_intervall: unknown option', err)
  H.eq(nil, hc.host_job())
  H.eq(0, #seen)
  -- the scheduled autostart does not start with defaults behind a failed setup()
  hc._autostart()
  H.eq(nil, hc.host_job())
  H.eq(false, hc._info().attempted)
  H.eq(false, hc.wait_ready(50))
  H.eq(0, #seen)
end)

H.test('a missing binary gives one warning and starts nothing', function()
  hc.setup({ binary = '/nonexistent/himalaya-coord' })
  H.eq(nil, hc.host_job())
  H.eq(1, #seen)
  H.eq(vim.log.levels.WARN, seen[1].level)
  H.contains('host binary not found', seen[1].msg)
  H.contains('/nonexistent/himalaya-coord', seen[1].msg)
  -- neither the autostart nor wait_ready tries again
  hc._autostart()
  local started = vim.loop.hrtime()
  H.eq(false, hc.wait_ready(1000))
  H.truthy((vim.loop.hrtime() - started) / 1e6 < 100, 'wait_ready returns at once')
  H.eq(1, #seen)
  local status, err = hc.status()
  H.eq(nil, status)
  H.contains('host binary not found', err)
  H.contains('host binary not found', hc.status_lines()[3])
  seen[1] = nil
end)

H.test('open_status shows the short report in a float that q closes', function()
  local before = #vim.api.nvim_list_wins()
  local buf, win = hc.open_status()
  H.eq(before + 1, #vim.api.nvim_list_wins())
  H.eq(win, vim.api.nvim_get_current_win())
  H.eq('editor', vim.api.nvim_win_get_config(win).relative)
  H.eq('# Himalaya Sync Coordination Status', vim.api.nvim_buf_get_lines(buf, 0, 1, false)[1])
  H.eq(false, vim.bo[buf].modifiable)
  H.eq('nofile', vim.bo[buf].buftype)
  H.eq('wipe', vim.bo[buf].bufhidden)
  H.eq('markdown', vim.bo[buf].filetype)
  vim.api.nvim_feedkeys('q', 'x', false)
  H.eq(false, vim.api.nvim_win_is_valid(win))
  H.eq(false, vim.api.nvim_buf_is_valid(buf))
  H.eq(before, #vim.api.nvim_list_wins())
end)

H.test('checkhealth runs with no host and names each section', function()
  local text = H.checkhealth('himalaya_coord')
  for _, section in ipairs({
    'himalaya-coord: options',
    'himalaya-coord: host binary',
    'himalaya-coord: host process',
    'himalaya-coord: state file',
    'himalaya-coord: lock file',
    'himalaya-coord: sync command',
    'himalaya-coord: coordination',
  }) do
    H.contains(section, text)
  end
  H.contains('host binary not found', text)
  H.contains('away: after 900s idle', text)
  H.contains('ADVICE', text)
  H.truthy(not text:find('Traceback') and not text:find('stack traceback'), 'no Lua error')
end)

H.test('checkhealth reports a failed setup()', function()
  pcall(hc.setup, { debug = 'yes' })
  local text = H.checkhealth('himalaya_coord')
  H.contains('setup() failed: debug: expected a boolean, got string', text)
end)

local function health_text()
  return H.checkhealth('himalaya_coord')
end

H.test('checkhealth: state file mode, JSON, symlink; missing sync command', function()
  local dir = vim.fn.tempname()
  vim.fn.mkdir(dir, 'p')
  local path = dir .. '/state.json'
  vim.fn.writefile({ '{"version": 1, "primary": ' }, path)
  vim.loop.fs_chmod(path, 420) -- 0644
  hc.setup({
    binary = '/nonexistent/himalaya-coord',
    state_file = path,
    sync = { command = { 'no-such-sync-program' } },
  })
  local text = health_text()
  H.contains('mode is 644, expected 600', text)
  H.contains('chmod 600 ' .. path, text)
  H.contains('the state file is not a valid JSON object', text)
  H.contains('owned by you', text)
  H.contains('no-such-sync-program is not an executable on PATH', text)

  vim.fn.writefile({ '{"version": 1, "last_sync_time": ' .. (os.time() - 125) .. '}' }, path)
  vim.loop.fs_chmod(path, 384) -- 0600
  text = health_text()
  H.contains('OK: mode 600', text)
  H.contains('valid JSON (version 1, last sync 2 minutes ago)', text)

  local link = dir .. '/link.json'
  vim.loop.fs_symlink(path, link)
  hc.setup({ binary = '/nonexistent/himalaya-coord', state_file = link })
  H.contains('the state file is a symbolic link', health_text())
  H.eq(nil, hc.host_job())
  for i = #seen, 1, -1 do
    H.contains('host binary not found', seen[i].msg)
    seen[i] = nil
  end
end)

H.test('checkhealth: a fresh state file (last_sync_time 0) says the last sync was never', function()
  local dir = vim.fn.tempname()
  vim.fn.mkdir(dir, 'p')
  local path = dir .. '/state.json'
  -- What the host writes before the first sync: last_sync_time is 0, not a time.
  vim.fn.writefile({ '{"instances": {}, "last_sync_time": 0, "version": 2}' }, path)
  vim.loop.fs_chmod(path, 384) -- 0600
  hc.setup({ binary = '/nonexistent/himalaya-coord', state_file = path })
  local text = health_text()
  H.contains('OK: valid JSON (version 2, last sync never)', text)
  H.truthy(not text:find('hours ago'), 'no age for a sync that never ran')
  vim.fn.delete(dir, 'rf')
  for i = #seen, 1, -1 do
    seen[i] = nil
  end
end)

H.test('checkhealth shows no deprecation message (:messages)', function()
  -- Neovim's own vim.notify, so that a vim.deprecate() warning would reach :messages.
  local recorder = vim.notify
  vim.notify = H.original_notify
  vim.cmd('messages clear')
  local ok, err = pcall(H.checkhealth, 'himalaya_coord')
  vim.notify = recorder
  H.truthy(ok, tostring(err))
  local messages = vim.fn.execute('messages')
  H.truthy(not messages:lower():find('deprecat'), 'messages: ' .. messages)
  for i = #seen, 1, -1 do
    seen[i] = nil
  end
end)

H.test('checkhealth: a directory above the state file that others can write to', function()
  local base = vim.fn.tempname()
  vim.fn.mkdir(base .. '/open/himalaya', 'p')
  vim.loop.fs_chmod(base, 448) -- 0700
  local path = base .. '/open/himalaya/state.json'
  hc.setup({ binary = '/nonexistent/himalaya-coord', state_file = path })
  H.contains('no other user can replace it', health_text())

  vim.loop.fs_chmod(base .. '/open', 511) -- 0777
  local text = health_text()
  H.contains('the directory ' .. base .. '/open (mode 0777) is writable by every user', text)
  H.contains('chmod o-w ' .. base .. '/open', text)

  vim.loop.fs_chmod(base .. '/open', 1023) -- 01777: sticky, like /tmp
  H.contains('no other user can replace it', health_text())

  if vim.loop.getuid() == 0 then
    -- Root can give the directory away; a user cannot, so this part runs only as root.
    vim.loop.fs_chmod(base .. '/open', 448)
    vim.loop.fs_chown(base .. '/open', 4242, 0)
    H.contains('(mode 0700) is owned by uid 4242', health_text())
    vim.loop.fs_chown(base .. '/open', 0, 4242)
    vim.loop.fs_chmod(base .. '/open', 504) -- 0770
    H.contains('(mode 0770) is writable by group 4242', health_text())
  end
  vim.fn.delete(base, 'rf')
  for i = #seen, 1, -1 do
    seen[i] = nil
  end
end)

H.test('disabled: a valid setup() starts nothing and says nothing', function()
  vim.g.himalaya_coord_disable = true
  hc.setup({ binary = '/nonexistent/other' })
  H.eq(nil, hc.host_job())
  H.eq(0, #seen)
  H.eq(true, hc._info().disabled)
  vim.g.himalaya_coord_disable = nil
end)

H.finish()
