-- The channel and group names of the user's mbsync configuration, for checking sync.channels at
-- setup() (SPEC §11). Only what that check needs: which file mbsync reads and the names its
-- Channel and Group sections define. The host's reader (mbsync/config.h) does the rest.

local M = {}

-- The `-c FILE`, `--config FILE` or `--config=FILE` of an mbsync command line (argv[1] is the
-- program), read up to the first word that is not an option, as mbsync does; nil when absent.
function M.config_argument(argv)
  local found
  local i = 2
  while i <= #argv do
    local word = argv[i]
    if word == '--' or word:sub(1, 1) ~= '-' then
      break
    end
    if word == '--config' or (word:sub(1, 2) ~= '--' and word:sub(-1) == 'c') then
      found = argv[i + 1]
      i = i + 1
    elseif word:sub(1, 9) == '--config=' then
      found = word:sub(10)
    end
    i = i + 1
  end
  return found
end

-- The file mbsync reads: the command's -c, else sync.push.mbsyncrc, else isync 1.5's
-- $XDG_CONFIG_HOME/isyncrc when it exists, else ~/.mbsyncrc (mbsync/locate.h has the reasons).
function M.locate(command, mbsyncrc, expand)
  local is_mbsync = vim.fn.fnamemodify(command[1], ':t') == 'mbsync'
  local given = is_mbsync and M.config_argument(command) or nil
  if given then
    return expand(given)
  end
  if mbsyncrc then
    return mbsyncrc
  end
  local xdg = os.getenv('XDG_CONFIG_HOME')
  if xdg == nil or xdg:sub(1, 1) ~= '/' then
    xdg = expand('~/.config')
  end
  if vim.fn.filereadable(xdg .. '/isyncrc') == 1 then
    return xdg .. '/isyncrc'
  end
  return expand('~/.mbsyncrc')
end

-- The first word of a line and the rest, with mbsync's double quotes around a name.
local function keyword_and_name(line)
  local keyword, rest = line:match('^%s*(%S+)%s+(.-)%s*$')
  if not keyword then
    return nil
  end
  local name = rest:match('^"(.-)"') or rest:match('^(%S+)')
  return keyword:lower(), name
end

-- { channels = { name = true }, groups = { name = true } } of the text of a configuration.
-- A `Channel` line inside a Group section names a member, not a new channel; a section ends at
-- an empty line.
function M.names(text)
  local out = { channels = {}, groups = {} }
  local in_group = false
  for line in (text .. '\n'):gmatch('(.-)\r?\n') do
    if line:match('^%s*$') then
      in_group = false
    elseif not line:match('^%s*#') then
      local keyword, name = keyword_and_name(line)
      if keyword == 'group' and name then
        out.groups[name] = true
        in_group = true
      elseif keyword == 'channel' and name and not in_group then
        out.channels[name] = true
      end
    end
  end
  return out
end

-- Reads `path`; returns its names, or nil and why it cannot be read.
function M.read(path)
  local file, err = io.open(path, 'r')
  if not file then
    return nil, err
  end
  local text = file:read('*a')
  file:close()
  return M.names(text or '')
end

-- Each name of sync.channels (resolved: `sync` is the validated sync table) must be a channel or
-- group of the configuration the sync command reads (SPEC §11). Returns a problem that names the
-- unknown one, or nil.
function M.check(sync, expand)
  if #sync.channels == 0 then
    return nil
  end
  local path = M.locate(sync.command, sync.push.mbsyncrc, expand)
  local found, err = M.read(path)
  if not found then
    return string.format(
      'sync.channels: cannot read the mbsync configuration %s (%s)',
      path,
      tostring(err)
    )
  end
  for i, entry in ipairs(sync.channels) do
    if not found.channels[entry.name] and not found.groups[entry.name] then
      return string.format(
        'sync.channels[%d].name: %q is not a Channel or Group of %s',
        i,
        entry.name,
        path
      )
    end
  end
  return nil
end

return M
