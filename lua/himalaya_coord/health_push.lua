-- The push section of :checkhealth himalaya_coord (SPEC §10).
--
-- It shows the watcher's state from the status facts (`push`, never the report's lines), then,
-- unless push is off by option, asks the host for one push check: a login of its own to the
-- first account, an EXAMINE of the first mailbox and a look for IDLE. That can take the host's
-- connect time-out (about 20 s), so the wait here is longer than any other in checkhealth, and
-- still bounded. Only named fields of the answer are shown: never anything that could hold the
-- password.

local report = require('himalaya_coord.report')

local M = {}

-- How long to wait for the push check: the host's connect time-out with a margin. Tests
-- shorten it.
M.timeout_ms = 25000

local function help()
  return 'See :help himalaya_coord-push'
end

local function names_of(list)
  if type(list) ~= 'table' or #list == 0 then
    return '?'
  end
  return table.concat(list, ', ')
end

-- The watcher's state, in the words of the status report's `## Push` section.
local function show_state(out, enabled, push)
  if type(push) ~= 'table' then
    out.info('the host reports no push state (it may predate push)')
    return
  end
  local server = type(push.server) == 'string' and push.server or 'the server'
  local mailboxes = names_of(push.mailboxes)
  local state = push.state
  if state == 'idling' then
    local last = 'no server change yet'
    if type(push.last_event_age) == 'number' then
      last = 'last server change ' .. report.duration(push.last_event_age) .. ' ago'
    end
    out.ok(string.format('state: Idling on %s (%s), %s', server, mailboxes, last))
  elseif state == 'connecting' then
    out.info(string.format('state: Connecting to %s (%s)', server, mailboxes))
  elseif state == 'reconnecting' then
    local retry = type(push.retry_in) == 'number' and report.duration(push.retry_in) or '?'
    local text = string.format(
      'state: Reconnecting to %s in %s; the timer syncs meanwhile',
      server,
      retry
    )
    if enabled == true then
      out.warn(text, { 'The server is unreachable or refused the login: see the log file.' })
    else
      out.info(text)
    end
  elseif state == 'off' then
    out.info(string.format('state: Off (%s)', tostring(push.why or '?')))
  else
    out.warn('state: unknown (' .. tostring(state) .. ')', {
      'The host and the plugin are of different versions: rebuild the host.',
    })
  end
end

-- The answer to push_check, as one line (two when IDLE works and the configuration is named).
local function show_check(out, enabled, result)
  local server = type(result.server) == 'string' and result.server or 'the server'
  local mailbox = type(result.mailbox) == 'string' and result.mailbox or 'INBOX'
  local message = type(result.message) == 'string' and result.message or '?'
  if result.ok == true and result.idle == true then
    out.ok(
      string.format(
        'logged in to %s as %s; %s can be watched with IDLE',
        server,
        type(result.user) == 'string' and result.user or '?',
        mailbox
      )
    )
    if type(result.config) == 'string' then
      out.info('mbsync configuration: ' .. result.config)
    end
    return
  end
  local text
  if result.ok == true then
    text = string.format('%s does not offer IDLE, so push is off: the timer alone syncs', server)
  elseif enabled == true then
    text = 'the push check failed: ' .. message
  else
    text = 'push is off: ' .. message .. " (sync.push.enabled = 'auto'; the timer alone syncs)"
  end
  if enabled == true then
    out.warn(text, {
      'Push needs an IMAPAccount in the mbsync configuration whose server offers IDLE.',
      'Set sync.push.enabled = false to sync by the timer alone without this warning.',
      help(),
    })
  else
    out.info(text)
  end
end

-- cfg: the resolved options; answering: the host answered ping; status: its status table or
-- nil; out: the reporting functions { start, ok, warn, info } of this Neovim's health API.
function M.check(cfg, answering, status, out)
  out.start('himalaya-coord: push')
  local enabled = cfg.sync.push.enabled
  if enabled == false then
    out.info('push is off (sync.push.enabled = false): the timer alone syncs')
    return
  end
  if not answering then
    out.warn('no answer from the host, so push cannot be checked', {
      'See the host process section above.',
    })
    return
  end
  if status then -- else the coordination section above said why there is none
    show_state(out, enabled, status.push)
  end
  local result, err = require('himalaya_coord')._push_check(M.timeout_ms)
  if not result then
    out.warn('no answer to the push check: ' .. err, {
      'The host logs in to the IMAP server for this check; see its log file for why it hung.',
    })
    return
  end
  show_check(out, enabled, result)
end

return M
