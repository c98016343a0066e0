-- :checkhealth himalaya_coord (SPEC §4), for Neovim 0.7 through current.
--
-- Nothing here may hang: the host's --version runs with a time limit, and the host is asked
-- through the same bounded requests as everything else.

local report = require('himalaya_coord.report')

local M = {}

local uv = vim.uv or vim.loop
local lua_fn = require('himalaya_coord.protocol').lua_fn

-- The reporting functions moved between versions: require('health').report_* on 0.7,
-- vim.health.report_* on 0.8-0.9, vim.health.start/ok/... from 0.10 (report_* removed in 0.11).
local h = vim.health or require('health')
local start = h.start or h.report_start
local ok = h.ok or h.report_ok
local warn = h.warn or h.report_warn
local fail = h.error or h.report_error
local info = h.info or h.report_info
-- The same functions for the sections that live in their own modules (health_push.lua).
local reporters = { start = start, ok = ok, warn = warn, fail = fail, info = info }

local VERSION_TIMEOUT_MS = 2000
local REQUEST_TIMEOUT_MS = 1000

local function help(tag)
  return 'See :help himalaya_coord-' .. tag
end

-- Runs `<binary> --version`, bounded. Returns its first output line, or nil and a problem.
local function host_version(binary)
  local output, errors = {}, {}
  local done = false
  local started, job = pcall(vim.fn.jobstart, { binary, '--version' }, {
    stdout_buffered = true,
    stderr_buffered = true,
    on_stdout = function(_, data)
      output = data
      done = true
    end,
    on_stderr = function(_, data)
      errors = data
    end,
  })
  if not started or type(job) ~= 'number' or job <= 0 then
    return nil, 'could not be run: ' .. tostring(job)
  end
  local code = vim.fn.jobwait({ job }, VERSION_TIMEOUT_MS)[1]
  if code == -1 then
    pcall(vim.fn.jobstop, job)
    return nil, string.format('--version did not finish within %d ms', VERSION_TIMEOUT_MS)
  end
  vim.wait(100, function()
    return done
  end, 5)
  local text = vim.trim(table.concat(output, '\n'))
  if code ~= 0 then
    local said = vim.trim(table.concat(errors, '\n') .. '\n' .. text)
    return nil,
      string.format('--version exited with code %d%s', code, said ~= '' and (': ' .. said) or '')
  end
  if text == '' then
    return nil, '--version printed nothing'
  end
  return (text:gsub('\n.*', ''))
end

-- Checks that `dir` exists and is writable, or can be created. Returns true if usable.
local function check_directory(dir, what)
  local stat = uv.fs_stat(dir)
  if stat then
    if stat.type ~= 'directory' then
      fail(string.format('%s directory %s is not a directory', what, dir), {
        'Remove or rename it, or choose another path for the ' .. what .. '.',
      })
      return false
    end
    if vim.fn.filewritable(dir) ~= 2 then
      fail(string.format('%s directory %s is not writable', what, dir), {
        'Make it writable (chmod u+w ' .. dir .. ') or choose another path.',
      })
      return false
    end
    ok(string.format('%s directory %s exists and is writable', what, dir))
    return true
  end
  local parent = dir
  repeat
    parent = vim.fn.fnamemodify(parent, ':h')
  until uv.fs_stat(parent) or parent == '/'
  if vim.fn.filewritable(parent) == 2 then
    ok(string.format('%s directory %s does not exist yet; the host creates it', what, dir))
    return true
  end
  fail(string.format('%s directory %s does not exist and cannot be created', what, dir), {
    string.format('%s is not writable: create %s yourself, or choose another path.', parent, dir),
  })
  return false
end

local function check_options(state)
  start('himalaya-coord: options')
  if state.disabled then
    warn('the plugin is disabled (vim.g.himalaya_coord_disable = true): nothing starts', {
      'Remove the setting to enable it.',
    })
  end
  if state.setup_error then
    fail('setup() failed: ' .. state.setup_error, {
      'Fix the option named before the colon; the host was not started with these options.',
      help('options'),
    })
  elseif state.config then
    ok('options are valid')
  else
    ok('setup() was not called: the defaults apply')
  end
  local cfg = state.config or require('himalaya_coord.config').validate({})
  info(
    string.format(
      'interval %ss, sync_cooldown %ss, coordination %s, auto_sync %s, debug %s',
      tostring(cfg.sync.interval),
      tostring(cfg.sync.coordination.sync_cooldown),
      cfg.sync.coordination.enabled and 'on' or 'off',
      tostring(cfg.sync.auto_sync),
      tostring(cfg.debug)
    )
  )
  info(
    string.format(
      'priority %s: a primary that goes is succeeded by the highest priority, then the '
        .. 'longest-running instance',
      tostring(cfg.sync.coordination.priority)
    )
  )
  local away = cfg.sync.away
  info(
    away.after
        and string.format(
          'away: after %ss idle (or a locked session), automatic syncs every %ss while all are away',
          tostring(away.after),
          tostring(away.interval)
        )
      or 'away: off (sync.away.after = false)'
  )
  info('log file: ' .. cfg.log_file)
  return cfg
end

local function check_binary(cfg, state)
  start('himalaya-coord: host binary')
  local config = require('himalaya_coord.config')
  local binary, problem = config.find_binary(cfg)
  if not binary then
    fail(problem, {
      'Build the host: cd ' .. config.plugin_root() .. ' && ' .. config.build_command(),
      'Or set `binary` in setup() to the path of a built himalaya-coord.',
      help('install'),
    })
    return
  end
  ok('found: ' .. binary)
  local version, err = host_version(binary)
  if version then
    ok('version: ' .. version)
  else
    fail('the host binary ' .. err, {
      'Rebuild it: cd ' .. config.plugin_root() .. ' && ' .. config.build_command(),
    })
  end
  if state.binary and state.binary ~= binary then
    info('the running host was started from ' .. state.binary)
  end
end

-- Returns true if the host answers.
local function check_process(state)
  start('himalaya-coord: host process')
  local hc = require('himalaya_coord')
  if state.disabled then
    info('not started: the plugin is disabled')
    return false
  end
  if not state.job then
    local advice = {
      'See the log file and the binary section above.',
      "Start it again with :lua require('himalaya_coord').restart()",
    }
    if state.restart_pending then
      warn('not running; a restart is scheduled: ' .. (state.last_error or '?'), advice)
    elseif not state.attempted then
      warn('not started yet', {
        'It starts automatically once Neovim has started, or when setup() is called.',
      })
    else
      fail('not running: ' .. (state.last_error or 'stopped'), advice)
    end
    if #state.stderr > 0 then
      info('last stderr lines of the host:\n' .. table.concat(state.stderr, '\n'))
    end
    return false
  end
  local known, pid = pcall(vim.fn.jobpid, state.job)
  ok(
    string.format(
      'running: job %d, pid %s, version %s, up %s',
      state.job,
      known and tostring(pid) or '?',
      tostring(state.host_version or '?'),
      report.duration((state.uptime_ms or 0) / 1000)
    )
  )
  if not state.ready then
    warn('the host has not registered its commands yet (no ' .. lua_fn.host_ready .. ' call)', {
      'If this persists, the host is stuck starting: see its log file.',
    })
  end
  local rtt, err = hc._ping(REQUEST_TIMEOUT_MS)
  local answered = rtt ~= nil
  if answered then
    ok(string.format('answers: round trip %.2f ms', rtt))
  else
    fail('the host does not answer: ' .. err, {
      'It may be hung. Its log file may say why.',
      "Restart it with :lua require('himalaya_coord').restart()",
    })
  end
  if state.recent_restarts > 0 then
    local text = 'the host was restarted %d time(s) in the last minute'
    warn(string.format(text, state.recent_restarts), {
      'It keeps exiting: see its log file and the stderr lines below.',
    })
  end
  if #state.stderr > 0 and (state.recent_restarts > 0 or not answered) then
    info('last stderr lines of the host:\n' .. table.concat(state.stderr, '\n'))
  end
  return answered
end

-- The host's rule for the directories above the state file (check_directory_safe in
-- coordinator/state_file.cpp): each one, up to /, must be owned by you or by root, and not
-- writable by others, nor by a group other than your own, unless it is sticky (like /tmp).
-- Otherwise another user could swap in a state file of their own. Returns true if they pass.
local function check_directory_safety(dir)
  local bit = require('bit')
  local p = dir
  while not uv.fs_stat(p) and p ~= '/' do
    p = vim.fn.fnamemodify(p, ':h')
  end
  p = uv.fs_realpath(p) or p
  local me, my_group = uv.getuid(), uv.getgid()
  while true do
    local st = uv.fs_stat(p)
    if st then
      local sticky = bit.band(st.mode, 512) ~= 0 -- 01000
      local why, fix
      if st.uid ~= me and st.uid ~= 0 then
        why, fix = 'is owned by uid ' .. st.uid, 'chown it to yourself'
      elseif bit.band(st.mode, 2) ~= 0 and not sticky then
        why, fix = 'is writable by every user', 'Run: chmod o-w ' .. p
      elseif bit.band(st.mode, 16) ~= 0 and not sticky and st.gid ~= my_group then
        why, fix = 'is writable by group ' .. st.gid, 'Run: chmod g-w ' .. p
      end
      if why then
        fail(
          string.format(
            'the directory %s (mode %04o) %s, so another user could replace the state file; '
              .. 'the host refuses to use it and syncs uncoordinated',
            p,
            st.mode % 4096,
            why
          ),
          { fix .. ', or choose another state_file.' }
        )
        return false
      end
    end
    if p == '/' then
      break
    end
    p = vim.fn.fnamemodify(p, ':h')
  end
  ok("no other user can replace it: the directories above it are yours or root's")
  return true
end

local function check_state_file(path)
  start('himalaya-coord: state file')
  info('path: ' .. path)
  if not check_directory(vim.fn.fnamemodify(path, ':h'), 'state file') then
    return
  end
  if not check_directory_safety(vim.fn.fnamemodify(path, ':h')) then
    return
  end
  local stat = uv.fs_lstat(path)
  if not stat then
    info('the file does not exist yet; the host creates it (mode 0600)')
    return
  end
  if stat.type == 'link' then
    fail('the state file is a symbolic link; the host refuses to use it', {
      'Replace the link with the file itself, or point state_file at the real path.',
    })
    return
  end
  if stat.type ~= 'file' then
    fail('the state file is a ' .. stat.type .. ', not a regular file', {
      'Remove it, or choose another state_file.',
    })
    return
  end
  local uid = uv.getuid and uv.getuid()
  if uid and stat.uid ~= uid then
    fail(string.format('the state file belongs to uid %d, not to you (uid %d)', stat.uid, uid), {
      'The host refuses a file owned by another user. Remove it (it is rebuilt) or chown it.',
    })
  else
    ok('owned by you')
  end
  local mode = stat.mode % 512
  if mode ~= 384 then
    warn(string.format('mode is %o, expected 600', mode), { 'Run: chmod 600 ' .. path })
  else
    ok('mode 600')
  end
  local file = io.open(path, 'r')
  if not file then
    fail('the state file cannot be read', { 'Check its permissions: chmod 600 ' .. path })
    return
  end
  local text = file:read(4 * 1024 * 1024) or ''
  file:close()
  local decoded, value = pcall(vim.fn.json_decode, text)
  if not decoded or type(value) ~= 'table' or not vim.trim(text):match('^{') then
    fail('the state file is not a valid JSON object', {
      'The host moves a corrupt file aside (.corrupt-<time>) and rebuilds it; '
        .. 'you may also delete it.',
    })
    return
  end
  local details = {}
  if type(value.version) == 'number' then
    table.insert(details, 'version ' .. value.version)
  end
  if type(value.last_sync_time) == 'number' then
    -- 0 is the host's "no sync yet" (a fresh state file), not the epoch.
    if value.last_sync_time <= 0 then
      table.insert(details, 'last sync never')
    else
      table.insert(
        details,
        'last sync ' .. report.duration(os.time() - value.last_sync_time) .. ' ago'
      )
    end
  end
  ok('valid JSON' .. (#details > 0 and (' (' .. table.concat(details, ', ') .. ')') or ''))
end

local function check_lock_file(path)
  start('himalaya-coord: lock file')
  info('path: ' .. path)
  if not check_directory(vim.fn.fnamemodify(path, ':h'), 'lock file') then
    return
  end
  local stat = uv.fs_stat(path)
  if not stat then
    ok('the lock file does not exist yet; it is created on the first sync')
  elseif stat.type ~= 'file' then
    fail('the lock file is a ' .. stat.type .. ', not a regular file', {
      'Remove it, or choose another sync.lock_file.',
    })
  elseif vim.fn.filewritable(path) ~= 1 then
    fail('the lock file is not writable', { 'Run: chmod u+w ' .. path })
  else
    ok('the lock file is usable')
  end
end

local function check_command(cfg)
  start('himalaya-coord: sync command')
  local command = cfg.sync.command
  info('command: ' .. table.concat(command, ' '))
  local program = command[1]
  if vim.fn.executable(program) == 1 then
    ok(string.format('%s is %s', program, vim.fn.exepath(program)))
    return
  end
  local report = cfg.sync.auto_sync and fail or warn
  report(string.format('%s is not an executable on PATH', program), {
    'Install it (mbsync is in the Debian package isync), or set sync.command in setup().',
    help('options'),
  })
end

-- Returns the host's status table, or nil when it gave none.
local function check_coordination(cfg, answering)
  start('himalaya-coord: coordination')
  local hc = require('himalaya_coord')
  local enabled = cfg.sync.coordination.enabled
  if not enabled then
    info('coordination is off (sync.coordination.enabled = false): this instance syncs on its own')
  end
  if not answering then
    warn('no answer from the host, so no role to show', { 'See the host process section above.' })
    return
  end
  local status, err = hc.status(REQUEST_TIMEOUT_MS)
  if not status then
    fail('the host gave no status: ' .. err, { 'See the host process section above.' })
    return
  end
  -- The host's facts (status_json in host/status_report.cpp), never its rendered lines.
  local instance = type(status.instance) == 'table' and status.instance or {}
  local role = instance.role or '?'
  local id = instance.id or hc.instance_id()
  if role == 'Uncoordinated' and enabled then
    warn(string.format('this instance (%s) is Uncoordinated: it syncs on its own timer', id), {
      'The state file cannot be used: see the state file section above and the log file.',
    })
  else
    ok(string.format('this instance (%s): %s', id, role))
  end
  -- SPEC §11 away: the desktop session, from logind, read by the primary's
  -- himalaya-coord-session process (host/session_process.h).
  local desktop = status.desktop_session
  if type(desktop) == 'table' then
    if desktop.problem == 'not the primary' then
      info('desktop session: Off (not the primary); the primary reads it')
    elseif type(desktop.session) == 'string' and desktop.session ~= '' then
      local now = desktop.away and 'idle or locked' or 'in use'
      ok(string.format('desktop session: logind %s is read (%s)', desktop.session, now))
    else
      local why = tostring(desktop.problem or '?')
      info('desktop session: not read (' .. why .. '); it never counts as away')
    end
  end
  if not enabled then
    return status
  end
  local primary = status.primary
  if type(primary) ~= 'table' then
    warn('there is no primary coordinator', {
      'Another instance takes the role within takeover_threshold; if none does, see the log file.',
    })
    return status
  end
  local heartbeat = '?'
  if type(primary.heartbeat_age) == 'number' then
    heartbeat = report.duration(primary.heartbeat_age) .. ' ago'
  end
  local text =
    string.format('primary: %s, last heartbeat %s', primary.instance_id or '?', heartbeat)
  if primary.active == false then
    warn(text .. ' (stale)', {
      string.format(
        'A secondary takes over after %s s without a heartbeat; if none does, see the log file.',
        tostring(cfg.sync.coordination.takeover_threshold)
      ),
    })
  else
    ok(text)
  end
  return status
end

function M.check()
  local state = require('himalaya_coord')._info()
  local cfg = check_options(state)
  check_binary(cfg, state)
  local answering = check_process(state)
  check_state_file(cfg.state_file)
  check_lock_file(cfg.sync.lock_file)
  check_command(cfg)
  local status = check_coordination(cfg, answering)
  require('himalaya_coord.health_adaptive').check(cfg, status, reporters)
  require('himalaya_coord.health_channels').check(cfg, status, reporters)
  require('himalaya_coord.health_push').check(cfg, answering, status, reporters)
end

return M
