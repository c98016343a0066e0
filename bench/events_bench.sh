#!/usr/bin/env bash
# Builds and runs events-bench: the delay from a sync's record in the state
# file to the User autocmd in each of three Neovims (median, p90, max), and
# the cost of one statusline() call.
# Usage: bench/events_bench.sh [syncs]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${BUILD_DIR:-$root/build-bench}"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" --target himalaya-coord events-bench -j2 >/dev/null
exec "$build/tests/e2e/events-bench" "$@"
