-- The status report's wording on the Lua side (SPEC §4). The host renders the report itself
-- (host/status_report.cpp) and sends its facts as a table; these are for what Lua says on its
-- own: the report's title when the host cannot answer, and ages in :checkhealth and statusline().

local M = {}

M.TITLE = '# Himalaya Sync Coordination Status'

-- An age or a remaining time as a count and its unit: seconds under a minute, minutes under an
-- hour, else hours; rounded down. Negative input (and NaN) reads as 0 seconds.
function M.duration_parts(seconds)
  if not (seconds > 0) then
    return 0, 'second'
  end
  seconds = math.floor(seconds)
  if seconds < 60 then
    return seconds, 'second'
  elseif seconds < 3600 then
    return math.floor(seconds / 60), 'minute'
  end
  return math.floor(seconds / 3600), 'hour'
end

-- 'N second(s)', 'N minute(s)' or 'N hour(s)', singular for 1: the host's format_duration().
function M.duration(seconds)
  local count, unit = M.duration_parts(seconds)
  return string.format('%d %s%s', count, unit, count == 1 and '' or 's')
end

-- '5s', '3m' or '2h': the same count, for statusline().
function M.short_duration(seconds)
  local count, unit = M.duration_parts(seconds)
  return count .. unit:sub(1, 1)
end

return M
