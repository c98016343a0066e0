#!/usr/bin/env bash
# Builds the libFuzzer targets in tests/fuzz with clang and runs each one for
# SECONDS (default 60), then prints one summary line per fuzzer.
#
#   scripts/fuzz.sh [SECONDS] [--merge]
#
# Each fuzzer runs on a scratch copy of its seed corpus (tests/fuzz/corpus/<name>),
# so the committed corpus is never written to, unless --merge is given: then the
# inputs that found new coverage are merged into it afterwards (libFuzzer -merge=1).
# A fuzzer that exits non-zero (crash, leak, sanitizer report, timeout, failed
# check) makes the script fail; its log and crash file are kept and printed.
#
# Environment: BUILD_DIR (default build-fuzz), CI=true for warnings as errors,
# FUZZ_ARGS for more libFuzzer flags (e.g. FUZZ_ARGS=-max_len=65536).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

usage() {
  sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
}

seconds=60
merge=0
for arg in "$@"; do
  case "$arg" in
    --merge) merge=1 ;;
    -h | --help) usage; exit 0 ;;
    *[!0-9]* | '') echo "fuzz.sh: unknown argument: $arg" >&2; usage >&2; exit 2 ;;
    *) seconds=$arg ;;
  esac
done

"$root/scripts/install-deps.sh"

build=${BUILD_DIR:-$root/build-fuzz}
werror=OFF
[ "${CI:-}" = true ] && werror=ON

echo "== build fuzzers in $build (clang, warnings as errors: $werror)"
# RelWithDebInfo without -DNDEBUG: the fuzzers run with assertions on.
cmake -S "$root" -B "$build" -DCMAKE_CXX_COMPILER=clang++ -DHIMALAYA_FUZZ=ON \
  -DHIMALAYA_WERROR=$werror -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 -g" >/dev/null
cmake --build "$build" -j2 --target rpc_fuzz state_fuzz imap_fuzz

read -r -a extra_args <<<"${FUZZ_ARGS:-}"
work=$(mktemp -d "${TMPDIR:-/tmp}/himalaya-fuzz.XXXXXX")
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

failed=0
summaries=()
for name in rpc state imap; do
  target="${name}_fuzz"
  dir="$work/$name"
  mkdir -p "$dir/corpus" "$dir/artifacts"
  cp -R "$root/tests/fuzz/corpus/$name/." "$dir/corpus/"
  echo "== $target for ${seconds}s (log: $dir/log)"
  status=0
  (cd "$dir" && "$build/tests/fuzz/$target" -max_total_time="$seconds" -timeout=30 \
    -print_final_stats=1 -artifact_prefix="$dir/artifacts/" "${extra_args[@]}" "$dir/corpus") \
    >"$dir/log" 2>&1 ||
    status=$?

  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -n1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$dir/log" | tail -n1)
  if [ "$status" -eq 0 ]; then
    verdict="no crash"
    if [ "$merge" = 1 ]; then
      "$build/tests/fuzz/$target" -merge=1 "$root/tests/fuzz/corpus/$name" "$dir/corpus" \
        >"$dir/merge.log" 2>&1
      verdict="$verdict, merged into tests/fuzz/corpus/$name"
    fi
  else
    failed=1
    crash=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$dir/log" | tail -n1)
    tail -n 60 "$dir/log" >&2
    verdict="FAILED (exit $status): ${crash:-no crash file}; log: $dir/log"
  fi
  summaries+=("fuzz: $target: ${execs:-?} executions, ${rate:-?} exec/s, $verdict")
done

echo "== fuzz summary (${seconds}s each)"
printf '%s\n' "${summaries[@]}"
if [ "$failed" -ne 0 ]; then
  echo "fuzz.sh: a fuzzer failed; its files are kept in $work" >&2
  exit 1
fi
rm -rf "$work"
