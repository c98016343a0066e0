#!/usr/bin/env bash
# The README's test command: installs what is missing, builds from scratch and
# runs every test, including the end-to-end tests with real Neovim, then prints
# which tests were skipped and why.
#
# With CI=true:
#   - the build uses -Werror;
#   - a skipped test in the mail, e2e, lua or logind labels fails the run (a test
#     skips only when its component is absent, and CI must have them all);
#   - the suite runs once more under ASan+UBSan, the rpc and coordinator
#     tests under TSan, and each fuzzer for 60 s;
#   - then the whole plain suite runs again in a fresh Debian 13 (trixie)
#     chroot (scripts/test-debian.sh trixie).
# HIMALAYA_CI_PLAIN=1 (set by scripts/test-debian.sh inside its chroot) keeps
# the first two and leaves out the sanitizer, TSan, fuzz and chroot passes.
# HIMALAYA_TEST_DEBIAN (default: trixie under CI) lists the releases for
# the chroot pass; empty skips it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

ci=0
[ "${CI:-}" = true ] && ci=1
plain=${HIMALAYA_CI_PLAIN:-0}
extra=0 # the sanitizer, TSan and fuzz passes
if { [ "$ci" = 1 ] && [ "$plain" != 1 ]; } || [ "${HIMALAYA_SANITIZE:-0}" = 1 ]; then
  extra=1
fi

started=$(date +%s)
stamp() { # stamp WHAT: a section heading with minutes:seconds since the start
  local s=$(($(date +%s) - started))
  printf '== [%d:%02d] %s\n' $((s / 60)) $((s % 60)) "$1"
}

# clang is for the fuzzers only.
HIMALAYA_FUZZ_DEPS=$extra "$root/scripts/install-deps.sh"

werror=OFF
[ "$ci" = 1 ] && werror=ON
# Line tables only (-g1): backtraces and sanitizer reports keep their file and
# line, and the builds take about a quarter less time than with full -g.
debug_info=("-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 -g1 -DNDEBUG" "-DCMAKE_CXX_FLAGS_DEBUG=-g1")

stamp "build (warnings as errors: $werror)"
rm -rf "$root/build"
BUILD_DIR="$root/build" "$root/scripts/build.sh" -DHIMALAYA_WERROR=$werror "${debug_info[@]}"
stamp "tests"
status=0
(cd "$root/build" && ctest --output-on-failure --timeout 600 -j2 \
  --output-junit "$root/build/ctest-junit.xml") || status=$?
(cd "$root/build" && ctest --show-only=json-v1) >"$root/build/ctest-tests.json"
strict=()
[ "$ci" = 1 ] && strict=(--strict-labels "mail,e2e,lua,logind")
python3 "$root/scripts/skip_report.py" "$root/build/ctest-junit.xml" \
  "$root/build/ctest-tests.json" "${strict[@]}" || status=1
stamp "tests: exit $status"
[ "$status" = 0 ] || exit "$status"

if [ "$extra" = 1 ]; then
  stamp "build with ASan+UBSan"
  rm -rf "$root/build-asan"
  BUILD_DIR="$root/build-asan" BUILD_TYPE=Debug "$root/scripts/build.sh" \
    -DHIMALAYA_WERROR=$werror -DHIMALAYA_ASAN=ON "${debug_info[@]}"
  # Every test, the real mail stack and the 100-process load tests included.
  # The instrumented build is about ten times slower per state-file write, so
  # the 100-process start storm runs at a slower heartbeat in it (see
  # tests/coordinator/multiprocess_test.cpp).
  # Left out: MailChannels, whose evidence is a 10 ms sampler of /proc in the
  # test process itself; built instrumented at -O0 it misses short mbsync
  # runs (seen in CI). The plain and Debian 13 passes run it, and the host
  # code it drives runs here under the other mail tests.
  stamp "tests under ASan+UBSan"
  (cd "$root/build-asan" && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --output-on-failure --timeout 900 -j2 -E '^MailChannels\.')

  # ThreadSanitizer over the two layers below the host: the rpc session and
  # the coordinator, with its multi-process tests. Left out: the two
  # 100-process load tests (one thread per process, the processes share only
  # the file, and a hundred TSan processes cost minutes) and the simulator's
  # tests (one thread, no I/O: nothing for TSan to see, and the slowest tests
  # under it).
  stamp "build with TSan"
  rm -rf "$root/build-tsan"
  # Only what the TSan pass runs: building the host, mail, e2e and imap tests
  # under TSan too would cost minutes of CI for tests it does not run.
  BUILD_DIR="$root/build-tsan" BUILD_TARGETS="rpc_tests coordinator_tests \
    coordinator_fault_tests coordinator_multiprocess_tests \
    coordinator_fault_multiprocess_tests coord-driver" "$root/scripts/build.sh" \
    -DHIMALAYA_WERROR=$werror -DHIMALAYA_TSAN=ON "${debug_info[@]}"
  stamp "rpc and coordinator tests under TSan"
  (cd "$root/build-tsan" && TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
    ctest --output-on-failure --timeout 900 -j2 -L 'rpc|coordinator|multiprocess' \
      -E 'MultiProcessTest\.(StartStormOf100|HundredProcessesTimesHundredIncrementsLoseNothing)|^sim_seeds|^SimulatorTest\.|^BrokenTransitionTest\.')

  # Each libFuzzer target for a bounded time, from the seed corpus in
  # tests/fuzz/corpus; scripts/fuzz.sh SECONDS runs them longer.
  stamp "fuzzers"
  "$root/scripts/fuzz.sh" "${HIMALAYA_FUZZ_SECONDS:-60}"
fi

if [ "$ci" = 1 ] && [ "$plain" != 1 ]; then
  for release in ${HIMALAYA_TEST_DEBIAN-trixie}; do
    stamp "the plain suite in a fresh Debian $release chroot"
    "$root/scripts/test-debian.sh" "$release"
  done
fi
stamp "done"
