-- The sync.adaptive part of :checkhealth himalaya_coord (SPEC §11).

local report = require('himalaya_coord.report')

local M = {}

-- sync.adaptive (SPEC §11): on or off, its bounds, and the interval the host uses now.
function M.check(cfg, status, out)
  local adaptive = cfg.sync.adaptive
  if not adaptive.enabled then
    out.info('adaptive schedule: off (sync.adaptive.enabled = false)')
    return
  end
  local text = string.format(
    'adaptive schedule: on, interval between %ss and %ss',
    tostring(adaptive.min_interval),
    tostring(adaptive.max_interval)
  )
  local interval = type(status) == 'table' and status.interval or nil
  if type(interval) == 'table' and type(interval.seconds) == 'number' then
    local now = report.duration(interval.seconds)
    text = text .. string.format('; now %s (%s)', now, tostring(interval.reason))
    if interval.reason == 'fixed' then
      text = text
        .. ': the arrival model has seen less than a day of syncs'
        .. ' (or this instance is Uncoordinated)'
    end
  end
  out.ok(text)
end

return M
