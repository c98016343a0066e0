-- Entry point: does nothing at start-up beyond scheduling the host's start, so that a setup()
-- in init.lua (or in another plugin file) runs first. See :help himalaya_coord.
if vim.g.loaded_himalaya_coord or vim.fn.has('nvim-0.7') == 0 then
  return
end
vim.g.loaded_himalaya_coord = true
if vim.g.himalaya_coord_disable == true or vim.g.himalaya_coord_disable == 1 then
  return
end

vim.schedule(function()
  require('himalaya_coord')._autostart()
end)
