-- A tiny test harness for specs run inside a real headless Neovim:
--   nvim --headless -u NONE --cmd 'set rtp^=<repo>' -c 'luafile tests/lua/x_spec.lua'
-- Each spec calls H.test(...) and finally H.finish(), which prints 'N passed, N failed', appends
-- the counts to $HIMALAYA_TEST_RESULTS (if set, for run.sh) and exits with :qa! or :cquit 1.

local H = { passed = 0, failed = 0, name = 'spec' }

local function out(text)
  io.stdout:write(text .. '\n')
  io.stdout:flush()
end

function H.start(name)
  H.name = name
end

function H.test(name, fn)
  local ok, err = xpcall(fn, debug.traceback)
  if ok then
    H.passed = H.passed + 1
    out('ok    ' .. H.name .. ': ' .. name)
  else
    H.failed = H.failed + 1
    out('FAIL  ' .. H.name .. ': ' .. name .. '\n' .. tostring(err))
  end
end

function H.eq(expected, actual, what)
  if not vim.deep_equal(expected, actual) then
    error(
      string.format(
        '%sexpected %s, got %s',
        what and (what .. ': ') or '',
        vim.inspect(expected),
        vim.inspect(actual)
      ),
      2
    )
  end
end

function H.truthy(value, what)
  if not value then
    error((what or 'value') .. ' is ' .. vim.inspect(value), 2)
  end
end

-- `text` contains `fragment` literally.
function H.contains(fragment, text, what)
  if type(text) ~= 'string' or not text:find(fragment, 1, true) then
    error(
      string.format(
        '%s%s does not contain %q',
        what and (what .. ': ') or '',
        vim.inspect(text),
        fragment
      ),
      2
    )
  end
end

-- Runs fn and returns the message it raised; fails if it did not raise.
function H.raises(fn)
  local ok, err = pcall(fn)
  if ok then
    error('expected an error, none was raised', 2)
  end
  return tostring(err)
end

-- Replaces vim.notify with a recorder; returns the list it fills with {msg, level}.
function H.record_notifications()
  local seen = {}
  vim.notify = function(msg, level)
    table.insert(seen, { msg = msg, level = level })
  end
  return seen
end

-- Empties a list in place (one that a recorder keeps appending to).
function H.clear(list)
  for i = #list, 1, -1 do
    list[i] = nil
  end
end

function H.finish()
  out(string.format('%s: %d passed, %d failed', H.name, H.passed, H.failed))
  local results = os.getenv('HIMALAYA_TEST_RESULTS')
  if results and results ~= '' then
    local f = io.open(results, 'a')
    if f then
      f:write(string.format('%d %d\n', H.passed, H.failed))
      f:close()
    end
  end
  if H.failed > 0 then
    vim.cmd('cquit 1')
  else
    vim.cmd('qa!')
  end
end

-- The directory of this file (tests/lua) and the repository root.
H.dir = vim.fn.fnamemodify(debug.getinfo(1, 'S').source:sub(2), ':p:h')
H.root = vim.fn.fnamemodify(H.dir, ':h:h')

return H
