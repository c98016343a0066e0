#!/bin/sh
# Runs the Lua side's tests in real headless Neovim (0.7 or later) and prints
# 'lua: N passed, N failed, N skipped'. Exits 1 if any test failed or a Neovim did not finish,
# else 77 if any was skipped (for want of python3 or a built host), else 0.
# NVIM selects the Neovim binary (default: nvim). Most specs that start a host use
# tests/lua/fake_host.py and need python3; without it they are skipped. real_host_spec.lua runs
# against $HIMALAYA_COORD_BINARY (default: <repo>/build/himalaya-coord) when it exists.
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
nvim=${NVIM:-nvim}

work=$(mktemp -d "${TMPDIR:-/tmp}/himalaya-lua-tests.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
# Keep the default state, log and lock files of the code under test out of the real home.
mkdir -p "$work/config" "$work/state" "$work/runtime" "$work/data"
chmod 700 "$work/runtime"
export XDG_CONFIG_HOME="$work/config" XDG_STATE_HOME="$work/state"
export XDG_RUNTIME_DIR="$work/runtime" XDG_DATA_HOME="$work/data"
export HIMALAYA_TEST_RESULTS="$work/results"
: >"$HIMALAYA_TEST_RESULTS"

broken=0
skipped=0

# The plugin as installed before its build step: lua/, plugin/ and doc/ without build/, for
# plugin_spec.lua's autostart checks, which must find the fake host rather than a built one.
mkdir -p "$work/unbuilt"
for d in lua plugin doc; do
  ln -s "$root/$d" "$work/unbuilt/$d"
done
export HIMALAYA_TEST_PLUGIN_ROOT="$work/unbuilt"

# run NAME ARGS...: one Neovim; its messages are shown only if it fails.
run() {
  name=$1
  shift
  before=$(wc -l <"$HIMALAYA_TEST_RESULTS")
  if ! timeout 180 "$nvim" --headless -i NONE -n "$@" 2>"$work/stderr"; then
    if [ "$(wc -l <"$HIMALAYA_TEST_RESULTS")" -eq "$before" ]; then
      # It did not get as far as counting: a crash, a Lua error outside a test, a time-out.
      echo "FAIL  $name: Neovim did not finish; its messages:"
      cat "$work/stderr"
      echo
      broken=$((broken + 1))
    fi
  fi
}

run config -u NONE --cmd "set rtp^=$root" -c "luafile $here/config_spec.lua"
run channels -u NONE --cmd "set rtp^=$root" -c "luafile $here/channels_spec.lua"
run api -u NONE --cmd "set rtp^=$root" -c "luafile $here/api_spec.lua"
run events -u NONE --cmd "set rtp^=$root" -c "luafile $here/events_spec.lua"
run presence -u NONE --cmd "set rtp^=$root" -c "luafile $here/presence_spec.lua"

if command -v python3 >/dev/null 2>&1; then
  run host -u NONE --cmd "set rtp^=$root" -c "luafile $here/host_spec.lua"
  run health-push -u NONE --cmd "set rtp^=$root" -c "luafile $here/health_push_spec.lua"
  run health-adaptive -u NONE --cmd "set rtp^=$root" -c "luafile $here/health_adaptive_spec.lua"
  HIMALAYA_TEST_SETUP=1 run plugin+setup -u "$here/plugin_init.lua" -c "luafile $here/plugin_spec.lua"
  HIMALAYA_TEST_DISABLE=1 run plugin+disable -u "$here/plugin_init.lua" -c "luafile $here/plugin_spec.lua"
  run plugin -u "$here/plugin_init.lua" -c "luafile $here/plugin_spec.lua"
else
  echo "skip  host and plugin specs: python3 not found (needed for tests/lua/fake_host.py)"
  skipped=5
fi

binary=${HIMALAYA_COORD_BINARY:-$root/build/himalaya-coord}
if [ -x "$binary" ]; then
  # No system bus for the host: its logind reader says so, whatever machine runs this.
  DBUS_SYSTEM_BUS_ADDRESS=unix:path=$work/no-system-bus HIMALAYA_COORD_BINARY=$binary \
    run real-host -u NONE --cmd "set rtp^=$root" -c "luafile $here/real_host_spec.lua"
else
  echo "skip  real host spec: no host binary at $binary (set HIMALAYA_COORD_BINARY)"
  skipped=$((skipped + 1))
fi

passed=0
failed=0
while read -r p f s; do
  passed=$((passed + p))
  failed=$((failed + f))
  skipped=$((skipped + ${s:-0}))
done <"$HIMALAYA_TEST_RESULTS"
failed=$((failed + broken))

echo "lua: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ] || exit 1
# 77: nothing failed but something was skipped (ctest's SKIP_RETURN_CODE for this suite).
[ "$skipped" -eq 0 ] || exit 77
