#!/usr/bin/env bash
# The README's first command: installs what is missing, builds, and shows the
# plugin at work in a real headless Neovim (its :HimalayaSyncStatus report).
# Everything runs in a temporary directory that is removed at the end; the
# user's own Neovim configuration and state are never touched.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

"$root/scripts/install-deps.sh"
echo "== building" >&2
BUILD_DIR="$root/build" "$root/scripts/build.sh"

demo=$(mktemp -d /tmp/himalaya-demo.XXXXXX)
trap 'rm -rf "$demo"' EXIT
mkdir -p "$demo"/{config,state,data,cache,runtime}
chmod 700 "$demo/runtime"
cat > "$demo/init.lua" <<LUA
vim.opt.runtimepath:prepend('$root')
require('himalaya_coord').setup({ binary = '$root/build/himalaya-coord' })
LUA
cat > "$demo/show.lua" <<'LUA'
local hc = require('himalaya_coord')
local out = io.stdout
if not hc.wait_ready(5000) then
  out:write('the host did not become ready; see :checkhealth himalaya_coord\n')
  vim.cmd('cquit 1')
end
local job = hc.host_job()
out:write(('Neovim pid %d started host pid %d\n\n'):format(vim.fn.getpid(), vim.fn.jobpid(job)))
out:write(':HimalayaSyncStatus\n\n')
out:write(table.concat(hc.status_lines(), '\n') .. '\n')
LUA

echo "== a headless Neovim with himalaya-coord" >&2
env HOME="$demo" XDG_CONFIG_HOME="$demo/config" XDG_STATE_HOME="$demo/state" \
  XDG_DATA_HOME="$demo/data" XDG_CACHE_HOME="$demo/cache" XDG_RUNTIME_DIR="$demo/runtime" \
  nvim --headless -n -i NONE -u "$demo/init.lua" -c "luafile $demo/show.lua" -c 'qa!'
