#!/usr/bin/env bash
# Installs the Debian packages himalaya-coord needs to build, test and demo, on
# Debian 12 (bookworm), 13 (trixie) or unstable (sid). Only what is missing is
# installed; `apt-get update` runs first when needed.
#
# An entry "a|b" takes the first of its alternatives that this release has
# (asked of apt-cache), unless one of them is installed already: package
# names differ between releases.
#
# Environment: HIMALAYA_FUZZ_DEPS=0 leaves out clang and its runtime, which
# only scripts/fuzz.sh needs; HIMALAYA_BENCH_DEPS=1 adds hyperfine.
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  libmsgpack-cxx-dev libboost-dev nlohmann-json3-dev
  libspdlog-dev libgtest-dev libssl-dev
  libsystemd-dev 'dbus-daemon|dbus'
  neovim isync dovecot-imapd openssl
  procps util-linux python3
  faketime
)
if [ "${HIMALAYA_FUZZ_DEPS:-1}" = 1 ]; then
  # The unversioned name follows the release's default clang (bookworm has it
  # too); the versioned one is bookworm's clang 14, for older package lists.
  packages+=(clang 'libclang-rt-dev|libclang-rt-14-dev')
fi
if [ "${HIMALAYA_BENCH_DEPS:-0}" = 1 ]; then
  packages+=(hyperfine)
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive

installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

# True when apt knows an installable version of $1.
available() {
  local candidate
  candidate=$(apt-cache policy "$1" 2>/dev/null | sed -n 's/^ *Candidate: //p')
  [ -n "$candidate" ] && [ "$candidate" != "(none)" ]
}

updated=0
update() {
  [ "$updated" = 1 ] && return
  if [ -n "$sudo" ] && ! command -v sudo >/dev/null; then
    echo "need root or sudo to run apt-get" >&2
    exit 1
  fi
  $sudo apt-get update
  updated=1
}

missing=()
for entry in "${packages[@]}"; do
  IFS='|' read -r -a choices <<<"$entry"
  found=""
  for p in "${choices[@]}"; do
    if installed "$p"; then
      found=$p
      break
    fi
  done
  [ -n "$found" ] && continue
  if [ ${#choices[@]} -gt 1 ]; then
    # Pick by the release's package lists; fetch them once if nothing matches.
    for attempt in 1 2; do
      for p in "${choices[@]}"; do
        if available "$p"; then
          found=$p
          break 2
        fi
      done
      [ "$attempt" = 1 ] && update
    done
    if [ -z "$found" ]; then
      echo "none of these packages exists in this release: ${choices[*]}" >&2
      exit 1
    fi
  else
    found=${choices[0]}
  fi
  missing+=("$found")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing: ${missing[*]}" >&2
update
$sudo apt-get install -y --no-install-recommends "${missing[@]}"
