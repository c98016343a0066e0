-- The channels part of :checkhealth himalaya_coord (SPEC §11): what sync.channels asks for, and
-- which of the channels this instance runs, as its host reports them (status().channels).

local M = {}

function M.check(cfg, status, out)
  local channels = cfg.sync.channels
  if #channels == 0 then
    out.info('channels: none (sync.command runs everything on one schedule)')
    return
  end
  local listed = {}
  for _, c in ipairs(channels) do
    table.insert(listed, string.format('%s every %ss', c.name, tostring(c.interval)))
  end
  out.ok(
    string.format(
      'channels: %s; at most %d at once in the fleet',
      table.concat(listed, ', '),
      cfg.sync.max_parallel
    )
  )
  local facts = type(status) == 'table' and status.channels or nil
  local me = type(status) == 'table' and type(status.instance) == 'table' and status.instance.id
  if type(facts) ~= 'table' or not me then
    return
  end
  local mine = {}
  for _, c in ipairs(facts) do
    if type(c) == 'table' and c.owner == me then
      table.insert(mine, tostring(c.name))
    end
  end
  out.info(
    #mine > 0 and ('this instance runs: ' .. table.concat(mine, ', '))
      or 'this instance runs none of them now (the others share them out)'
  )
end

return M
