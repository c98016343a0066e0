#!/usr/bin/env bash
# Builds and runs away-bench: nvim_input of 10,000 keys into a Neovim with
# the plugin (sync.away on: vim.on_key watches every key) and into one without
# it, in the same run; the median of several rounds for each, the ratio and
# the difference per key (SPEC §11: watching input costs nothing measurable).
# Usage: bench/away_keys.sh [rounds]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${BUILD_DIR:-$root/build-bench}"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" --target himalaya-coord away-bench -j2 >/dev/null
exec "$build/tests/e2e/away-bench" "$@"
