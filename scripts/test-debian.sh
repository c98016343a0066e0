#!/usr/bin/env bash
# Runs the README's test command (scripts/test.sh) on another Debian release,
# in a fresh debootstrap chroot:
#
#   scripts/test-debian.sh RELEASE      RELEASE is trixie (Debian 13) or sid
#
# It builds a minimal chroot of RELEASE from the Debian archive, copies a clean
# `git clone` of this checkout's HEAD (committed work only) and ../shared into
# it at the same relative layout, and runs scripts/test.sh there as CI does:
# -Werror, the whole suite (real Neovim, Dovecot and mbsync of that release),
# and the strict skip policy, but not the ASan/TSan/fuzz passes
# (HIMALAYA_CI_PLAIN=1). Nothing is cached: every run starts from the archive,
# as a fresh CI machine would. Every mount is undone on any exit, failure and
# Ctrl-C included, and the chroot is removed unless kept.
#
# Must run as root (debootstrap, mount, chroot). Environment:
#   HIMALAYA_CHROOT_DIR    where to build the chroot (must not exist or be
#                          empty; default: a new directory under /var/tmp)
#   HIMALAYA_KEEP_CHROOT=1 keep the chroot afterwards (its mounts are undone)
#   HIMALAYA_DEBIAN_MIRROR default http://deb.debian.org/debian
#
# Exit status: that of scripts/test.sh in the chroot; 1 if the chroot could
# not be made; 2 on a usage error.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

usage() {
  sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}
[ $# -eq 1 ] || usage
release=$1
case $release in
  trixie | sid | forky | bookworm) ;;
  *) usage ;;
esac
if [ "$(id -u)" -ne 0 ]; then
  echo "test-debian.sh: needs root (debootstrap, mount, chroot)" >&2
  exit 1
fi
mirror=${HIMALAYA_DEBIAN_MIRROR:-http://deb.debian.org/debian}
# The commit to test, fixed now: HEAD may move while the chroot is made.
commit=$(git -C "$root" rev-parse HEAD)

started=$(date +%s)
stamp() {  # stamp WHAT: prints WHAT with the minutes:seconds since the start
  local s=$(($(date +%s) - started))
  printf '== [%d:%02d] %s\n' $((s / 60)) $((s % 60)) "$1"
}

if ! command -v debootstrap >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends debootstrap ||
    { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y \
      --no-install-recommends debootstrap; }
fi

if [ -n "${HIMALAYA_CHROOT_DIR:-}" ]; then
  chroot_dir=$HIMALAYA_CHROOT_DIR
  if [ -e "$chroot_dir" ] && [ -n "$(ls -A "$chroot_dir")" ]; then
    echo "test-debian.sh: $chroot_dir is not empty" >&2
    exit 1
  fi
  mkdir -p "$chroot_dir"
else
  chroot_dir=$(mktemp -d "/var/tmp/himalaya-$release.XXXXXX")
fi
chroot_dir=$(cd "$chroot_dir" && pwd)

# SIGKILLs every process whose root directory is the chroot (a Dovecot or a
# Neovim the suite left behind would keep its mounts busy), and only those.
kill_chroot_processes() {
  local p
  for p in /proc/[0-9]*; do
    if [ "$(readlink "$p/root" 2>/dev/null)" = "$chroot_dir" ]; then
      kill -9 "${p#/proc/}" 2>/dev/null
    fi
  done
}

# Runs a command in a session of its own, in the background, and waits for
# it: bash runs a trap only between foreground commands, so a signal (a CI
# time-out, Ctrl-C) would otherwise wait for the whole suite. cleanup() ends
# the command's process group.
child=0
run() {
  setsid "$@" </dev/null &
  child=$!
  local s=0
  wait "$child" || s=$?
  child=0
  return "$s"
}

# Mount points, in the order they were mounted; undone in reverse.
mounted=()
cleanup() {
  local status=$? i
  trap '' INT TERM HUP
  set +e
  if [ "$child" != 0 ]; then
    kill -9 -- "-$child" 2>/dev/null
    wait "$child" 2>/dev/null
  fi
  kill_chroot_processes
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
    umount -R "${mounted[$i]}" 2>/dev/null || umount -R -l "${mounted[$i]}" ||
      echo "test-debian.sh: cannot unmount ${mounted[$i]}" >&2
  done
  if grep -q " ${chroot_dir}[/ ]" /proc/self/mounts; then
    echo "test-debian.sh: mounts left under $chroot_dir; not removing it" >&2
  elif [ "${HIMALAYA_KEEP_CHROOT:-0}" = 1 ]; then
    echo "== chroot kept: $chroot_dir" >&2
  else
    rm -rf --one-file-system "$chroot_dir"
  fi
  stamp "test-debian.sh $release: exit $status"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

stamp "debootstrap --variant=minbase $release into $chroot_dir"
run debootstrap --variant=minbase "$release" "$chroot_dir" "$mirror" >"$chroot_dir.debootstrap.log" 2>&1 ||
  { tail -n 30 "$chroot_dir.debootstrap.log" >&2; rm -f "$chroot_dir.debootstrap.log"; exit 1; }
rm -f "$chroot_dir.debootstrap.log"

# Dovecot's unprivileged processes must be able to traverse /.
chmod 0755 "$chroot_dir"
# Installing dovecot-imapd must not start Dovecot as a service.
printf '#!/bin/sh\nexit 101\n' >"$chroot_dir/usr/sbin/policy-rc.d"
chmod 0755 "$chroot_dir/usr/sbin/policy-rc.d"
if [ "$release" = sid ]; then
  # sid's Release file may be past its Valid-Until date.
  echo 'Acquire::Check-Valid-Until "false";' >"$chroot_dir/etc/apt/apt.conf.d/99himalaya-valid-until"
fi
cp /etc/resolv.conf "$chroot_dir/etc/resolv.conf" 2>/dev/null || true
# A throw-away system: dpkg need not fsync every file it unpacks (minutes saved).
echo force-unsafe-io >"$chroot_dir/etc/dpkg/dpkg.cfg.d/himalaya-unsafe-io"

# The chroot's / as a mount point of its own: `unshare --mount-proc` (a
# multi-process test) changes the propagation of /, which must be a mount.
mount --bind "$chroot_dir" "$chroot_dir" && mounted+=("$chroot_dir")
mount --make-private "$chroot_dir"
mount -t proc proc "$chroot_dir/proc" && mounted+=("$chroot_dir/proc")
mount -t sysfs sysfs "$chroot_dir/sys" && mounted+=("$chroot_dir/sys")
# /dev with its submounts (pts, shm), as a slave: nothing done under the
# chroot's /dev, unmounting included, reaches the host's.
mount --rbind /dev "$chroot_dir/dev" && mounted+=("$chroot_dir/dev")
mount --make-rslave "$chroot_dir/dev"
mount -t tmpfs -o mode=1777 tmpfs "$chroot_dir/tmp" && mounted+=("$chroot_dir/tmp")

# The checkout and ../shared, at the same relative layout.
name=$(basename "$root")
mkdir -p "$chroot_dir/src"
stamp "copying a clean clone of ${commit:0:7} to /src/$name"
git clone --quiet --no-hardlinks --no-checkout "$root" "$chroot_dir/src/$name"
git -C "$chroot_dir/src/$name" checkout --quiet --detach "$commit"
if [ -d "$root/../shared" ]; then
  cp -a "$root/../shared" "$chroot_dir/src/shared"
fi

stamp "scripts/test.sh in $release (CI=true HIMALAYA_CI_PLAIN=1)"
status=0
run chroot "$chroot_dir" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  HOME=/root LANG=C.UTF-8 TERM="${TERM:-dumb}" CI=true HIMALAYA_CI_PLAIN=1 \
  bash -c "cd /src/$name && scripts/test.sh" || status=$?
stamp "scripts/test.sh in $release: exit $status"
exit "$status"
