#!/usr/bin/env bash
# Host RSS, two binaries compared in one run: each is started RUNS times by a
# headless Neovim (setup(), wait_ready), alternately, and its VmRSS read once
# ready. Prints the median of each in MiB and their ratio, and the median RSS
# of the desktop-session reader (himalaya-coord-session) each host starts as
# the primary, when it has one (waited for up to 2 s after ready).
# Usage: bench/host_rss.sh BASELINE CANDIDATE [RUNS]   (RUNS defaults to 9)
# It measured what linking libsystemd (sd-bus, host/logind_session.h) costs,
# then that the reader's own process gives the host its old RSS back.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
baseline=$(realpath "$1")
candidate=$(realpath "$2")
runs=${3:-9}

work=$(mktemp -d /tmp/himalaya-rss.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work"/{config,state,data,cache,runtime}
chmod 700 "$work/runtime"
export HOME="$work" XDG_CONFIG_HOME="$work/config" XDG_STATE_HOME="$work/state" \
  XDG_DATA_HOME="$work/data" XDG_CACHE_HOME="$work/cache" XDG_RUNTIME_DIR="$work/runtime"

# One host's VmRSS in KiB once ready.
rss_of() {
  cat >"$work/init.lua" <<LUA
vim.opt.runtimepath:prepend('$root')
require('himalaya_coord').setup({ binary = '$1' })
local hc = require('himalaya_coord')
assert(hc.wait_ready(5000), 'host not ready')
local function rss_of(pid)
  local rss = 0
  local f = io.open('/proc/' .. pid .. '/status')
  if not f then
    return 0
  end
  for line in f:lines() do
    rss = line:match('^VmRSS:%s+(%d+)') or rss
  end
  f:close()
  return rss
end
local host = vim.fn.jobpid(hc.host_job())
local host_rss = rss_of(host)
local child_rss = 0
vim.wait(2000, function()
  local f = io.open('/proc/' .. host .. '/task/' .. host .. '/children')
  local pids = f and f:read('*a') or ''
  if f then
    f:close()
  end
  for pid in pids:gmatch('%d+') do
    local c = io.open('/proc/' .. pid .. '/cmdline')
    local argv0 = (c and c:read('*a') or ''):match('^[^%z]*')
    if c then
      c:close()
    end
    if argv0:find('himalaya%-coord%-session$') then
      child_rss = rss_of(pid)
      return true
    end
  end
  return false
end, 20)
io.stdout:write(host_rss .. ' ' .. child_rss .. '\n')
LUA
  nvim --headless -n -i NONE -u NONE -c "luafile $work/init.lua" -c "qa!" 2>/dev/null
}

base=() cand=()
for ((i = 0; i < runs; i++)); do
  base+=("$(rss_of "$baseline" | tr ' ' ,)")
  cand+=("$(rss_of "$candidate" | tr ' ' ,)")
done
python3 - "${base[*]}" "${cand[*]}" <<'PY'
import statistics, sys
def medians(runs):
    pairs = [tuple(int(v) for v in r.split(",")) for r in runs.split()]
    return (statistics.median(p[0] for p in pairs) / 1024,
            statistics.median(p[1] for p in pairs) / 1024)
(b, bc), (c, cc) = medians(sys.argv[1]), medians(sys.argv[2])
print(f"host RSS when ready, median: baseline {b:.2f} MiB, candidate {c:.2f} MiB, ratio {c / b:.3f}")
for name, child in (("baseline", bc), ("candidate", cc)):
    print(f"{name}'s himalaya-coord-session RSS, median: " +
          (f"{child:.2f} MiB" if child else "none started"))
PY
