-- plugin/himalaya_coord.lua: start-up order and the scheduled autostart. Run with
-- `-u tests/lua/plugin_init.lua`: with HIMALAYA_TEST_SETUP=1, with HIMALAYA_TEST_DISABLE=1,
-- and with neither.
local H = dofile(vim.fn.fnamemodify(debug.getinfo(1, 'S').source:sub(2), ':p:h') .. '/harness.lua')
local with_setup = os.getenv('HIMALAYA_TEST_SETUP') == '1'
local disabled = os.getenv('HIMALAYA_TEST_DISABLE') == '1'
H.start(disabled and 'plugin+disable' or with_setup and 'plugin+setup' or 'plugin')

local hc = require('himalaya_coord')
local seen = _G.test_notifications

H.test('the plugin file was sourced', function()
  H.eq(true, vim.g.loaded_himalaya_coord)
end)

if disabled then
  H.test('vim.g.himalaya_coord_disable: nothing starts, nothing is said', function()
    vim.wait(200)
    H.eq(nil, hc.host_job())
    H.eq(false, hc.wait_ready(100))
    H.eq(nil, hc.host_job())
    H.eq(0, #seen)
  end)
elseif with_setup then
  H.test('setup() in init.lua started the host; the autostart adds nothing', function()
    H.truthy(_G.test_job_after_setup, 'job started by setup()')
    H.eq(_G.test_job_after_setup, hc.host_job())
    H.eq(true, hc.wait_ready(3000))
    vim.wait(200) -- the scheduled autostart has run by now
    H.eq(_G.test_job_after_setup, hc.host_job())
    H.eq(0, #seen)
  end)
else
  -- run.sh installs the plugin without build/ (HIMALAYA_TEST_PLUGIN_ROOT), so the autostart
  -- finds the fake host on PATH rather than a built one.
  local built = require('himalaya_coord.config').plugin_root() .. '/build/himalaya-coord'
  if vim.fn.executable(built) == 1 then
    H.skip('autostart checks', built .. ' exists; they need the fake host, found on PATH')
  else
    H.test('-c commands run before the autostart; wait_ready starts the host itself', function()
      H.eq(nil, hc.host_job())
      H.eq(false, hc._info().attempted)
      H.eq(true, hc.wait_ready(3000))
      H.truthy(hc.host_job(), 'host job')
      local job = hc.host_job()
      vim.wait(200) -- the scheduled autostart runs and must not start a second host
      H.eq(job, hc.host_job())
      H.eq(0, #seen)
    end)
  end
end

H.finish()
