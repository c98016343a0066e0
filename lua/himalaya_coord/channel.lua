-- Requests to the host with a bounded wait (SPEC §4, §8).
--
-- Lua never uses rpcrequest, which would block Neovim on a hung host with no time limit. It
-- sends a notification carrying a token instead, and waits, bounded, for the host to call
-- require('himalaya_coord')._deliver(token, value) (protocol.lua_fn.deliver), which is
-- deliver() here. A token nobody waits for any more is dropped when it arrives.

local M = {}

local next_token = 0
local pending = {} -- token -> true while a caller waits for it
local replies = {} -- token -> value delivered by the host

-- Sends `method` with a fresh token to the host on channel `job` and waits at most `timeout_ms`
-- for deliver(token, value). `gone()` returns nil while that host runs, else why it is gone;
-- the wait ends early when it does. Returns the value (vim.NIL for a nil value), or nil and a
-- message.
function M.request(job, method, timeout_ms, gone)
  next_token = next_token + 1
  local token = next_token
  pending[token] = true
  local sent, err = pcall(vim.rpcnotify, job, method, token)
  if not sent then
    pending[token] = nil
    return nil, 'host not reachable: ' .. tostring(err)
  end
  vim.wait(timeout_ms, function()
    return replies[token] ~= nil or gone() ~= nil
  end, 2)
  local reply = replies[token]
  pending[token] = nil
  replies[token] = nil
  if reply ~= nil then
    return reply
  end
  local why = gone()
  if why then
    return nil, why
  end
  return nil, string.format('host did not answer within %d ms', timeout_ms)
end

-- The host's answer to request(): kept only while a caller waits for `token`.
function M.deliver(token, value)
  token = tonumber(token)
  if token and pending[token] then
    if value == nil then
      value = vim.NIL
    end
    replies[token] = value
  end
end

return M
