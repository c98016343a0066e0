-- The status report's window: a centered scratch float, in Markdown, that `q` closes.

local M = {}

-- Opens `lines` in the float and enters it. Returns buf, win.
function M.open(lines)
  local width = 0
  for _, line in ipairs(lines) do
    width = math.max(width, vim.fn.strdisplaywidth(line))
  end
  width = math.max(math.min(width + 1, vim.o.columns - 4), 1)
  local height = math.max(math.min(#lines, vim.o.lines - 4), 1)
  local buf = vim.api.nvim_create_buf(false, true)
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, lines)
  vim.bo[buf].buftype = 'nofile'
  vim.bo[buf].bufhidden = 'wipe'
  vim.bo[buf].swapfile = false
  vim.bo[buf].modifiable = false
  local win = vim.api.nvim_open_win(buf, true, {
    relative = 'editor',
    width = width,
    height = height,
    row = math.max(math.floor((vim.o.lines - height) / 2) - 1, 0),
    col = math.max(math.floor((vim.o.columns - width) / 2), 0),
    style = 'minimal',
    border = 'single',
  })
  vim.bo[buf].filetype = 'markdown'
  vim.api.nvim_buf_set_keymap(buf, 'n', 'q', '<Cmd>close<CR>', {
    noremap = true,
    nowait = true,
    silent = true,
  })
  return buf, win
end

return M
