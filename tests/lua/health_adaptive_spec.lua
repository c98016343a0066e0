-- The sync.adaptive line of :checkhealth himalaya_coord (SPEC §11), against
-- tests/lua/fake_host.py (whose status gives no interval: the line shows the bounds only).
local H = dofile(vim.fn.fnamemodify(debug.getinfo(1, 'S').source:sub(2), ':p:h') .. '/harness.lua')
H.start('health adaptive')

local hc = require('himalaya_coord')
H.record_notifications()
vim.env.FAKE_HOST_MODE = 'normal'
local fake = H.dir .. '/fake_host.py'

-- The 'LEVEL: msg' items of :checkhealth that name the adaptive schedule.
local function adaptive_items()
  local items = {}
  for line in H.checkhealth('himalaya_coord'):gmatch('[^\n]+') do
    if line:match('^%u+: adaptive schedule') then
      table.insert(items, line)
    end
  end
  return items
end

H.test('adaptive off: one INFO line', function()
  hc.setup({ binary = fake, sync = { interval = 60, push = { enabled = false } } })
  H.eq(true, hc.wait_ready(3000))
  H.eq({ 'INFO: adaptive schedule: off (sync.adaptive.enabled = false)' }, adaptive_items())
end)

H.test('adaptive on: one OK line with its bounds', function()
  hc.setup({
    binary = fake,
    sync = {
      interval = 60,
      push = { enabled = false },
      adaptive = { enabled = true, min_interval = 90, max_interval = 1800 },
    },
  })
  H.eq(true, hc.wait_ready(3000))
  H.eq({ 'OK: adaptive schedule: on, interval between 90s and 1800s' }, adaptive_items())
end)

hc._stop()
H.finish()
