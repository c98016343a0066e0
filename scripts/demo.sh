#!/usr/bin/env bash
# The README's first command: installs what is missing, builds, and shows the
# main job with three real headless Neovims sharing one state file:
#   - they elect one primary, and each prints its role and :HimalayaSyncStatus;
#   - only the primary syncs, once per interval for the whole fleet;
#   - the primary's Neovim is killed (SIGKILL), another takes over at once,
#     and the schedule goes on with no extra sync.
# Intervals are scaled down (SPEC §3 allows fractional seconds) and the sync
# command is a stand-in that logs each run. Everything lives in a temporary
# directory that is removed at the end; the user's own Neovim configuration,
# state and mail are never touched.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

"$root/scripts/install-deps.sh"
echo "== building" >&2
BUILD_DIR="$root/build" "$root/scripts/build.sh"

interval=3
demo=$(mktemp -d /tmp/himalaya-demo.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$demo"
}
trap cleanup EXIT
mkdir -p "$demo"/{config,state,data,cache,runtime}
chmod 700 "$demo/runtime"
synclog="$demo/syncs.log"
: > "$synclog"

cat > "$demo/init.lua" <<LUA
vim.opt.runtimepath:prepend('$root')
local label = os.getenv('DEMO_LABEL')
require('himalaya_coord').setup({
  binary = '$root/build/himalaya-coord',
  sync = {
    interval = $interval,
    startup_delay = 0.5,
    -- Stands in for mbsync: logs who synced and when, and takes 0.3 s.
    command = { '/bin/sh', '-c', 'echo "\$(date +%s.%N) \$1" >> $synclog; sleep 0.3', 'sync', label },
    coordination = { heartbeat_interval = 0.2, takeover_threshold = 1.5, sync_cooldown = 2 },
  },
})
function _G.demo_role()
  local s = require('himalaya_coord').status(1000)
  return s and s.instance.role or '?'
end
function _G.demo_status(path)
  vim.fn.writefile(require('himalaya_coord').status_lines(), path)
  return ''
end
function _G.demo_instances()
  local s = require('himalaya_coord').status(1000)
  return s and s.instances and #s.instances or 0
end
LUA

export HOME="$demo" XDG_CONFIG_HOME="$demo/config" XDG_STATE_HOME="$demo/state" \
  XDG_DATA_HOME="$demo/data" XDG_CACHE_HOME="$demo/cache" XDG_RUNTIME_DIR="$demo/runtime"

remote() {  # remote N EXPR: evaluates EXPR in Neovim N
  # Neovim 0.7 prints the result of --remote-expr on stderr.
  nvim --server "$demo/nvim$1.sock" --remote-expr "$2" 2>&1 >/dev/null || true
}
roles() {
  for i in 1 2 3; do
    [ -S "$demo/nvim$i.sock" ] || continue
    kill -0 "${pids[$((i - 1))]}" 2>/dev/null || continue
    printf '  nvim-%s (pid %s): %s\n' "$i" "${pids[$((i - 1))]}" "$(remote "$i" 'v:lua.demo_role()')"
  done
}
primary_index() {
  for i in 1 2 3; do
    kill -0 "${pids[$((i - 1))]}" 2>/dev/null || continue
    if [ "$(remote "$i" 'v:lua.demo_role()')" = "Primary Coordinator" ]; then
      echo "$i"
      return
    fi
  done
}
show_status() {  # show_status N: :HimalayaSyncStatus of Neovim N
  remote "$1" "v:lua.demo_status('$demo/status.txt')" >/dev/null
  sed 's/^/  | /' "$demo/status.txt"
}
show_syncs() {  # the log: when each sync started, relative to the first, and the gap
  awk 'NR == 1 { t0 = $1; prev = $1 }
    { printf "  sync %2d at +%6.2f s (%5.2f s after the previous)  by %s\n", NR, $1 - t0, $1 - prev, $2
      prev = $1 }' "$synclog"
}

echo "== starting three headless Neovims (interval ${interval} s, cooldown 2 s)"
for i in 1 2 3; do
  DEMO_LABEL="nvim-$i" nvim --headless -n -i NONE -u "$demo/init.lua" \
    --listen "$demo/nvim$i.sock" </dev/null >/dev/null 2>"$demo/nvim$i.err" &
  pids+=($!)
  disown
done
for i in 1 2 3; do
  for _ in $(seq 100); do [ -S "$demo/nvim$i.sock" ] && break; sleep 0.05; done
  [ "$(remote "$i" "luaeval(\"require('himalaya_coord').wait_ready(5000) and 1 or 0\")")" = 1 ] ||
    { echo "nvim-$i: host not ready; see $demo/nvim$i.err" >&2; exit 1; }
done
for _ in $(seq 100); do  # until every instance has registered in the state file
  [ "$(remote 1 'v:lua.demo_instances()')" = 3 ] && break
  sleep 0.05
done
echo "== roles after the election"
roles
p=$(primary_index)
echo
echo "== :HimalayaSyncStatus in the primary, nvim-$p"
show_status "$p"
echo

echo "== letting the fleet run for four intervals"
sleep $((4 * interval))
show_syncs
before=$(wc -l < "$synclog")

p=$(primary_index)
echo
echo "== SIGKILL of the primary's Neovim, nvim-$p (pid ${pids[$((p - 1))]})"
kill -9 "${pids[$((p - 1))]}"
killed=$(date +%s%N)
new=""
for _ in $(seq 200); do
  new=$(primary_index)
  [ -n "$new" ] && break
  sleep 0.02
done
took=$((($(date +%s%N) - killed) / 1000000))
echo "   new primary: nvim-$new, seen after ${took} ms (including the time to ask each Neovim)"
roles

echo
echo "== four more intervals after the failover"
sleep $((4 * interval))
show_syncs
after=$(wc -l < "$synclog")
echo "   $before syncs before the kill, $((after - before)) after: one per ${interval} s interval"
echo
echo "== :HimalayaSyncStatus in the new primary, nvim-$new"
show_status "$new"
echo
echo "== done; cleaning up"
