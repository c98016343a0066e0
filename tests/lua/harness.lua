-- A tiny test harness for specs run inside a real headless Neovim:
--   nvim --headless -u NONE --cmd 'set rtp^=<repo>' -c 'luafile tests/lua/x_spec.lua'
-- Each spec calls H.test(...) (or H.skip(...)) and finally H.finish(), which prints
-- 'N passed, N failed, N skipped', appends the counts to $HIMALAYA_TEST_RESULTS (if set, for
-- run.sh) and exits with :qa! or :cquit 1.

local H = { passed = 0, failed = 0, skipped = 0, name = 'spec' }

-- Neovim's own vim.notify, before a spec replaces it with a recorder.
H.original_notify = vim.notify

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

-- Records a test that could not run here; only for a component that is absent.
function H.skip(name, why)
  H.skipped = H.skipped + 1
  out('skip  ' .. H.name .. ': ' .. name .. ': ' .. why)
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

local levels = { OK = true, WARNING = true, ERROR = true, INFO = true }

-- One checkhealth report line in a form that is the same on every Neovim version. Report
-- items read '  - OK: msg' on 0.7-0.9, '- OK msg' on 0.10 and '- ✅ OK msg' on 0.11+ (likewise
-- WARNING and ERROR); info items read '  - INFO: msg' on 0.7-0.9 and '- msg' from 0.10. Each
-- becomes 'LEVEL: msg'. Other lines (headings, ADVICE and its list) are kept as they are.
local function health_line(line)
  local old = line:match('^  %- (%u+: .*)$')
  local level = old and old:match('^(%u+):')
  if level and levels[level] then
    return old
  end
  local item = line:match('^%- (.*)$')
  if not item then
    return line
  end
  item = item:gsub('^[\128-\255]+%s*', '') -- the 0.11+ status emoji
  local msg
  level, msg = item:match('^(%u+):? (.*)$')
  if level and levels[level] then
    return level .. ': ' .. msg
  end
  return 'INFO: ' .. item
end

-- Runs :checkhealth NAME and returns its report with every item as 'LEVEL: msg' (see
-- health_line), then closes it: 0.7-0.9 open it in a new tab, 0.10+ may use the current one.
function H.checkhealth(name)
  local tabs = #vim.api.nvim_list_tabpages()
  vim.cmd('checkhealth ' .. name)
  local buf = vim.api.nvim_get_current_buf()
  local lines = vim.api.nvim_buf_get_lines(buf, 0, -1, false)
  if #vim.api.nvim_list_tabpages() > tabs then
    vim.cmd('tabclose')
  end
  if vim.api.nvim_buf_is_valid(buf) then
    vim.cmd('bwipeout! ' .. buf)
  end
  for i, line in ipairs(lines) do
    lines[i] = health_line(line)
  end
  return table.concat(lines, '\n')
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
  out(string.format('%s: %d passed, %d failed, %d skipped', H.name, H.passed, H.failed, H.skipped))
  local results = os.getenv('HIMALAYA_TEST_RESULTS')
  if results and results ~= '' then
    local f = io.open(results, 'a')
    if f then
      f:write(string.format('%d %d %d\n', H.passed, H.failed, H.skipped))
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
