#!/usr/bin/env bash
# Builds and runs coord-bench: failover time after SIGKILL and after a clean
# exit (median, p99, max) and lock hold times with 100 processes.
# Usage: bench/coordinator_bench.sh [rounds] [state directory]
# The state directory decides the file system measured (default: a new
# directory under $TMPDIR); fsync latency dominates on a real disk.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${BUILD_DIR:-$root/build-bench}"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" --target coord-bench coord-driver -j2 >/dev/null
exec "$build/tests/coordinator/coord-bench" "$@"
