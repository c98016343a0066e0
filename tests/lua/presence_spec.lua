-- Away's input watch (SPEC §11), against lua/himalaya_coord/presence.lua: the first key after a
-- quiet window is sent at once, the next ones within the window are not, and `after = false`
-- stops the watch. vim.rpcnotify is replaced by a recorder; keys are fed as typed.
local H = dofile(vim.fn.fnamemodify(debug.getinfo(1, 'S').source:sub(2), ':p:h') .. '/harness.lua')
H.start('presence')

local presence = require('himalaya_coord.presence')

local sent = {}
local real_rpcnotify = vim.rpcnotify
vim.rpcnotify = function(job, name)
  table.insert(sent, { job = job, name = name })
end

local function type_keys(keys)
  vim.api.nvim_feedkeys(vim.api.nvim_replace_termcodes(keys, true, false, true), 'xt', false)
end

local function job()
  return 7
end

H.test('the first key is sent at once, the rest of the window is not', function()
  sent = {}
  presence.watch(0.4, job, 'input') -- a window of 0.1 s
  type_keys('ihello<Esc>')
  H.eq(1, #sent, 'notifications after 7 keys')
  H.eq({ job = 7, name = 'input' }, sent[1])
  type_keys('ihello<Esc>')
  H.eq(1, #sent, 'within the window')
  vim.wait(300, function()
    return false
  end)
  type_keys('ix<Esc>')
  H.eq(2, #sent, 'after the window')
end)

H.test('no host yet: nothing is sent, and the next key after it is ready is', function()
  sent = {}
  local ready = false
  presence.watch(0.4, function()
    return ready and 7 or nil
  end, 'input')
  type_keys('ix<Esc>')
  H.eq(0, #sent)
  ready = true
  type_keys('ix<Esc>')
  H.eq(1, #sent)
end)

H.test('after = false stops the watch', function()
  sent = {}
  presence.watch(false, job, 'input')
  type_keys('ihello<Esc>')
  vim.wait(300, function()
    return false
  end)
  type_keys('ihello<Esc>')
  H.eq(0, #sent)
end)

vim.rpcnotify = real_rpcnotify
H.finish()
