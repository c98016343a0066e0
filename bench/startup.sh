#!/usr/bin/env bash
# Start-up benchmark: prints four figures for the README (issue 2's targets).
#   1. median `nvim --headless +qa!` wall time without and with the plugin
#      (host started by setup()), measured in the same run, and their ratio;
#   2. time from jobstart to ready (wait_ready), median of RUNS;
#   3. one rpcrequest round trip to the host, median of 2000;
#   4. host RSS once ready.
# Usage: bench/startup.sh [RUNS]   (needs a build in ./build; installs hyperfine)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-30}
HIMALAYA_BENCH_DEPS=1 "$root/scripts/install-deps.sh"
[ -x "$root/build/himalaya-coord" ] || BUILD_DIR="$root/build" BUILD_TYPE=Release "$root/scripts/build.sh"

work=$(mktemp -d /tmp/himalaya-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work"/{config,state,data,cache,runtime}
chmod 700 "$work/runtime"
export HOME="$work" XDG_CONFIG_HOME="$work/config" XDG_STATE_HOME="$work/state" \
  XDG_DATA_HOME="$work/data" XDG_CACHE_HOME="$work/cache" XDG_RUNTIME_DIR="$work/runtime"

cat > "$work/without.lua" <<LUA
vim.opt.runtimepath:prepend('$root')
vim.g.himalaya_coord_disable = true
LUA
cat > "$work/with.lua" <<LUA
vim.opt.runtimepath:prepend('$root')
require('himalaya_coord').setup({ binary = '$root/build/himalaya-coord' })
LUA

hyperfine -N --warmup 3 --runs "$runs" --export-json "$work/startup.json" \
  -n without "nvim --headless -n -i NONE -u $work/without.lua +qa!" \
  -n with "nvim --headless -n -i NONE -u $work/with.lua +qa!" >/dev/null 2>&1

cat > "$work/measure.lua" <<LUA
local hc = require('himalaya_coord')
local function median(t)
  table.sort(t)
  local n = #t
  return n % 2 == 1 and t[(n + 1) / 2] or (t[n / 2] + t[n / 2 + 1]) / 2
end
local ready = {}
for _ = 1, $runs do
  local t0 = vim.loop.hrtime()
  hc.restart() -- stops the running host (asynchronously) and starts a new one
  assert(hc.wait_ready(5000), 'host not ready')
  ready[#ready + 1] = (vim.loop.hrtime() - t0) / 1e6
end
local chan = hc.host_job()
local echo = require('himalaya_coord.protocol').method.echo
local trips = {}
for _ = 1, 2000 do
  local t0 = vim.loop.hrtime()
  vim.rpcrequest(chan, echo, 1)
  trips[#trips + 1] = (vim.loop.hrtime() - t0) / 1e6
end
local rss = 0
for line in io.lines('/proc/' .. vim.fn.jobpid(chan) .. '/status') do
  local kb = line:match('^VmRSS:%s+(%d+)')
  if kb then
    rss = tonumber(kb) / 1024
  end
end
io.stdout:write(('%.3f %.4f %.2f\n'):format(median(ready), median(trips), rss))
LUA
read -r ready trip rss < <(nvim --headless -n -i NONE -u "$work/with.lua" \
  -c "luafile $work/measure.lua" -c 'qa!')

python3 - "$work/startup.json" "$ready" "$trip" "$rss" <<'PY'
import json, sys
res = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
without, with_ = res["without"]["median"] * 1e3, res["with"]["median"] * 1e3
print(f"start-up median: without {without:.2f} ms, with {with_:.2f} ms, "
      f"added {with_ - without:+.2f} ms (ratio {with_ / without:.3f})   target: <= +6 ms")
print(f"jobstart to ready, median: {float(sys.argv[2]):.2f} ms   target: <= 5 ms")
print(f"rpcrequest round trip, median: {float(sys.argv[3]):.4f} ms   target: <= 0.15 ms")
print(f"host RSS when ready: {float(sys.argv[4]):.2f} MiB   target: <= 4 MiB")
PY
