-- An init file for plugin_spec.lua: the plugin on the runtimepath, loaded the normal way.
-- HIMALAYA_TEST_SETUP=1 calls setup() here, as a user's init.lua would;
-- HIMALAYA_TEST_DISABLE=1 sets vim.g.himalaya_coord_disable;
-- otherwise nothing is configured and the fake host is put on PATH as `himalaya-coord`.
local dir = vim.fn.fnamemodify(debug.getinfo(1, 'S').source:sub(2), ':p:h')
-- HIMALAYA_TEST_PLUGIN_ROOT: the plugin as installed before its build step (run.sh links
-- lua/, plugin/ and doc/ there), so that no built host is found next to it.
local root = os.getenv('HIMALAYA_TEST_PLUGIN_ROOT') or vim.fn.fnamemodify(dir, ':h:h')
vim.opt.runtimepath:prepend(root)

_G.test_notifications = {}
vim.notify = function(msg, level)
  table.insert(_G.test_notifications, { msg = msg, level = level })
end

if os.getenv('HIMALAYA_TEST_DISABLE') == '1' then
  vim.g.himalaya_coord_disable = true
elseif os.getenv('HIMALAYA_TEST_SETUP') == '1' then
  require('himalaya_coord').setup({ binary = dir .. '/fake_host.py' })
  _G.test_job_after_setup = require('himalaya_coord').host_job()
else
  local bin = vim.fn.tempname()
  vim.fn.mkdir(bin, 'p')
  vim.loop.fs_symlink(dir .. '/fake_host.py', bin .. '/himalaya-coord')
  vim.env.PATH = bin .. ':' .. vim.env.PATH
end
