#!/usr/bin/env bash
# The README's test command: installs what is missing, builds from scratch and
# runs every test, including the end-to-end tests with real Neovim. With
# CI=true the build uses -Werror, and the suite runs once more under ASan+UBSan.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

"$root/scripts/install-deps.sh"

werror=OFF
[ "${CI:-}" = true ] && werror=ON

echo "== build (warnings as errors: $werror)"
rm -rf "$root/build"
BUILD_DIR="$root/build" "$root/scripts/build.sh" -DHIMALAYA_WERROR=$werror
echo "== tests"
(cd "$root/build" && ctest --output-on-failure --timeout 600 -j2)

if [ "${CI:-}" = true ] || [ "${HIMALAYA_SANITIZE:-0}" = 1 ]; then
  echo "== build with ASan+UBSan"
  rm -rf "$root/build-asan"
  BUILD_DIR="$root/build-asan" BUILD_TYPE=Debug "$root/scripts/build.sh" \
    -DHIMALAYA_WERROR=$werror -DHIMALAYA_ASAN=ON
  # Every test, the real mail stack and the 100-process load tests included.
  # The instrumented build is about ten times slower per state-file write, so
  # the 100-process start storm runs at a slower heartbeat in it (see
  # tests/coordinator/multiprocess_test.cpp).
  echo "== tests under ASan+UBSan"
  (cd "$root/build-asan" && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --output-on-failure --timeout 900 -j2)

  # ThreadSanitizer over the two layers below the host: the rpc session and
  # the coordinator, with its multi-process tests. The two 100-process load
  # tests are left out here: they add nothing TSan can see (one thread per
  # process; the processes share only the file), and a hundred TSan
  # processes cost minutes of CI time.
  echo "== build with TSan"
  rm -rf "$root/build-tsan"
  BUILD_DIR="$root/build-tsan" "$root/scripts/build.sh" -DHIMALAYA_WERROR=$werror \
    -DHIMALAYA_TSAN=ON
  echo "== rpc and coordinator tests under TSan"
  (cd "$root/build-tsan" && TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
    ctest --output-on-failure --timeout 900 -j2 -L 'rpc|coordinator|multiprocess' \
      -E 'MultiProcessTest\.(StartStormOf100|HundredProcessesTimesHundredIncrementsLoseNothing)')

  # Each libFuzzer target for a bounded time, from the seed corpus in
  # tests/fuzz/corpus; scripts/fuzz.sh SECONDS runs them longer.
  echo "== fuzzers"
  "$root/scripts/fuzz.sh" "${HIMALAYA_FUZZ_SECONDS:-60}"
fi
