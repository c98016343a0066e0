-- Away (SPEC §11): tells the host that its Neovim had input, at most once per window.
--
-- Keys and mouse come from vim.on_key (Neovim 0.5+). The first input after a quiet window is
-- sent at once (rpcnotify: never waits for the host). Then the callback is taken off until the
-- window is over, so the keys typed meanwhile cost Neovim nothing at all; a timer puts it back.
-- FocusGained and FocusLost are autocmds the host registers itself.

local M = {}

local uv = vim.uv or vim.loop

-- The window: at most 2 s, and at most a quarter of sync.away.after, so the host's idea of the
-- last input is never far behind.
local MAX_WINDOW_MS = 2000

local ns = nil
local window_ms = MAX_WINDOW_MS
local method_name = 'input'
local watching = false -- sync.away is on
local armed = false -- the callback is registered and has not fired in this window
local timer = nil
local job_of = function()
  return nil
end

local on_key

local function rearm()
  if watching and not armed then
    armed = true
    vim.on_key(on_key, ns)
  end
end

-- Returns nothing: from 0.10 on, an on_key callback returning '' would discard the key.
on_key = function()
  if not armed then
    return
  end
  local job = job_of()
  if not job then
    return -- no host yet: keep watching
  end
  armed = false
  pcall(vim.rpcnotify, job, method_name)
  -- Not from inside the callbacks' loop: the next turn of the event loop.
  vim.schedule(function()
    if not armed then
      vim.on_key(nil, ns)
    end
  end)
  if timer == nil then
    timer = uv.new_timer()
  end
  timer:stop()
  timer:start(window_ms, 0, function()
    vim.schedule(rearm)
  end)
end

-- Watches input while sync.away.after is a number of seconds; stops when it is false or nil.
-- `get_job` returns the current host's channel or nil; `method` is protocol.method.input.
function M.watch(after_seconds, get_job, method)
  if ns == nil then
    ns = vim.api.nvim_create_namespace('himalaya_coord_presence')
  end
  if timer then
    timer:stop()
  end
  armed = false
  vim.on_key(nil, ns)
  watching = type(after_seconds) == 'number'
  if not watching then
    return
  end
  window_ms = math.min(MAX_WINDOW_MS, after_seconds * 1000 / 4)
  job_of = get_job
  method_name = method
  rearm()
end

return M
