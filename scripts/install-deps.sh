#!/usr/bin/env bash
# Installs the Debian 12 packages himalaya-coord needs to build, test and demo.
# Only what is missing is installed; `apt-get update` runs first when needed.
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  libmsgpack-cxx-dev libboost-dev libboost-filesystem-dev nlohmann-json3-dev
  libspdlog-dev libgtest-dev
  neovim isync dovecot-imapd
  procps util-linux python3
  clang libclang-rt-14-dev faketime
)
if [ "${HIMALAYA_BENCH_DEPS:-0}" = 1 ]; then
  packages+=(hyperfine)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing: ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update
$sudo apt-get install -y --no-install-recommends "${missing[@]}"
