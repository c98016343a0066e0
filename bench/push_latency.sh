#!/usr/bin/env bash
# Push latency benchmark (issue 13): prints the figures for the README.
#   A private Dovecot (scripts/mailserver.sh, STARTTLS), 3 headless Neovims
#   with the plugin and `mbsync -c <rc> -a` as the sync command.
#   1. push on, interval = 900, min_gap = 2 (the defaults): DELIVERIES
#      messages delivered to the server's INBOX one at a time, each timed
#      from its delivery (the rename into the server's new/) to the moment its
#      file is in the local Maildir (polled every 2 ms);
#   2. the same with push off and interval = 2;
#   3. the default without push: interval 900 gives a mean wait of 450 s
#      and a worst of 900 s.
#   Deliveries are spaced by a random gap (GAP_MIN..GAP_MAX s, default
#   2.5..3.5, longer than min_gap plus a sync) so that each is independent of
#   the one before. Prints median and p99 (nearest rank) for each run.
# Usage: bench/push_latency.sh      (as root, for Dovecot; needs a build in
#                                     BUILD_DIR, default ./build, or builds one)
# Environment: DELIVERIES (50), GAP_MIN (2.5), GAP_MAX (3.5), SEED (1),
#   ONLY=push-on or ONLY=push-off to run one of the two (no summary then).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build}
deliveries=${DELIVERIES:-50}
gap_min=${GAP_MIN:-2.5}
gap_max=${GAP_MAX:-3.5}
seed=${SEED:-1}
[ "$(id -u)" = 0 ] || { echo "run as root (Dovecot needs it)" >&2; exit 1; }
[ -x "$build/himalaya-coord" ] || BUILD_DIR="$build" BUILD_TYPE=Release "$root/scripts/build.sh"

work=$(mktemp -d /tmp/himalaya-push-bench.XXXXXX)
chmod 711 "$work"
mail="$work/mail"
pids=()
cleanup() {
  set +e
  local pid p i
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null; done
  for i in $(seq 60); do  # each host exits when its Neovim's channel closes
    left=""
    for p in $(pgrep -x himalaya-coord) $(pgrep -x mbsync); do
      grep -qzx "HIMALAYA_BENCH=$work" "/proc/$p/environ" 2>/dev/null && left+="$p "
    done
    [ -z "$left" ] && break
    # shellcheck disable=SC2086 # a list of pids
    [ "$i" = 60 ] && kill -9 $left 2>/dev/null
    sleep 0.05
  done
  [ -e "$mail/dovecot.conf" ] && "$root/scripts/mailserver.sh" stop "$mail"
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT

"$root/scripts/mailserver.sh" start "$mail" >"$work/server.txt"
mbsyncrc=$(sed -n 's/^MBSYNCRC=//p' "$work/server.txt")
mkdir -p "$work"/{config,state,data,cache,runtime}
chmod 700 "$work/runtime"
export HOME="$work" XDG_CONFIG_HOME="$work/config" XDG_STATE_HOME="$work/state" \
  XDG_DATA_HOME="$work/data" XDG_CACHE_HOME="$work/cache" XDG_RUNTIME_DIR="$work/runtime"

# Delivers and times: writes each message into the server's Maildir (tmp/,
# then a rename into new/, as a delivery agent does) and polls the local
# INBOX's new/ and cur/ for a file with its subject. Prints one latency in
# seconds per line.
cat >"$work/measure.py" <<'PY'
import json, os, pwd, grp, random, re, sys, time
server_box, local_box, count, gap_min, gap_max, seed, tag, host_log = sys.argv[1:9]
count, gap_min, gap_max = int(count), float(gap_min), float(gap_max)
rng = random.Random(int(seed))
nobody, nogroup = pwd.getpwnam('nobody').pw_uid, grp.getgrnam('nogroup').gr_gid
dirs = [os.path.join(local_box, d) for d in ('new', 'cur')]

def local_names():
    names = set()
    for d in dirs:
        try:
            names.update(os.listdir(d))
        except FileNotFoundError:
            pass
    return names

def has_subject(names, subject):
    for name in names:
        for d in dirs:
            try:
                with open(os.path.join(d, name), 'rb') as f:
                    if subject in f.read(4096):
                        return True
            except FileNotFoundError:
                pass
    return False

delivered = []  # wall-clock times of the deliveries
for n in range(count):
    time.sleep(rng.uniform(gap_min, gap_max))
    before = local_names()
    name = '%d.bench%s_%d.localhost' % (time.time(), tag, n)
    subject = ('Subject: bench %s %d\n' % (tag, n)).encode()
    tmp = os.path.join(server_box, 'tmp', name)
    with open(tmp, 'wb') as f:
        f.write(b'From: Bob <bob@example.org>\nTo: Alice <alice@example.org>\n' + subject +
                ('Message-ID: <%s@example.org>\n\nbench\n' % name).encode())
    os.chown(tmp, nobody, nogroup)
    os.rename(tmp, os.path.join(server_box, 'new', name))
    start = time.monotonic()
    delivered.append(time.time())
    deadline = start + 30
    while True:
        added = local_names() - before
        if added and has_subject(added, subject):
            print('%.4f' % (time.monotonic() - start), flush=True)
            break
        if time.monotonic() > deadline:
            print('timeout', flush=True)
            break
        time.sleep(0.002)

# Where the time goes (push only), from the hosts' log: delivery -> the
# watcher's "push: ...: N EXISTS" line (the server's part: Dovecot reports a
# change in a Maildir to an idling client NOTIFY_DELAY_MSECS = 500 ms after
# it sees it, to batch changes), and -> the push sync's start
# (HimalayaSyncStarted with trigger "push").
def stamp(line):
    t = time.strptime(line[:19], '%Y-%m-%dT%H:%M:%S')
    return time.mktime(t) + float('0' + line[19:23])

exists, starts = [], []
try:
    with open(host_log) as f:
        for line in f:
            if re.search(r' info: push: .*: [0-9]+ EXISTS$', line):
                exists.append(stamp(line))
            m = re.search(r' info: event HimalayaSyncStarted (\{.*\})$', line)
            if m:
                data = json.loads(m.group(1))
                if data.get('trigger') == 'push':
                    starts.append(data['started'])
except FileNotFoundError:
    pass

def after(times, t):
    later = [x for x in times if x >= t - 0.01]
    return min(later) - t if later else None

def median(values):
    values = sorted(v for v in values if v is not None)
    if not values:
        return None
    n = len(values)
    return values[n // 2] if n % 2 else (values[n // 2 - 1] + values[n // 2]) / 2

if exists:
    e = median([after(exists, t) for t in delivered])
    st = median([after(sorted(set(starts)), t) for t in delivered])
    with open(os.path.join(os.path.dirname(host_log), 'breakdown-' + tag), 'w') as out:
        out.write('%.3f %.3f\n' % (e if e is not None else -1, st if st is not None else -1))
PY

remote() { nvim --server "$work/nvim$1.sock" --remote-expr "$2" 2>&1 || true; }
push_state() {
  remote "$1" "luaeval(\"(function() local s = require('himalaya_coord').status(1000) \
return s and s.push and s.push.state or '?' end)()\")"
}
is_primary() {
  [ "$(remote "$1" "luaeval(\"(function() local s = require('himalaya_coord').status(1000) \
return s and s.instance.role or '?' end)()\")")" = "Primary Coordinator" ]
}

# run NAME PUSH INTERVAL: starts 3 Neovims, measures, stops them; writes $work/NAME.txt.
run() {
  local name=$1 push=$2 interval=$3 i p=""
  cat >"$work/init.lua" <<LUA
vim.opt.runtimepath:prepend('$root')
require('himalaya_coord').setup({
  binary = '$build/himalaya-coord',
  sync = {
    interval = $interval,
    startup_delay = 0.5,
    command = { 'mbsync', '-c', '$mbsyncrc', '-a' },
    coordination = { heartbeat_interval = 0.2, takeover_threshold = 1.5, sync_cooldown = 1 },
    push = { enabled = $push, mailboxes = { 'INBOX' }, min_gap = 2 },
  },
})
LUA
  rm -f "$work"/nvim*.sock
  pids=()
  for i in 1 2 3; do
    HIMALAYA_BENCH="$work" nvim --headless -n -i NONE -u "$work/init.lua" \
      --listen "$work/nvim$i.sock" </dev/null >/dev/null 2>"$work/nvim$i.err" &
    pids+=($!)
    disown
  done
  for i in 1 2 3; do
    for _ in $(seq 100); do [ -S "$work/nvim$i.sock" ] && break; sleep 0.05; done
    [ "$(remote "$i" "luaeval(\"require('himalaya_coord').wait_ready(5000) and 1 or 0\")")" = 1 ] ||
      { echo "nvim-$i: host not ready; see $work/nvim$i.err" >&2; exit 1; }
  done
  for _ in $(seq 100); do
    for i in 1 2 3; do is_primary "$i" && p=$i; done
    [ -n "$p" ] && break
    sleep 0.1
  done
  [ -n "$p" ] || { echo "no primary" >&2; exit 1; }
  if [ "$push" = true ]; then
    for _ in $(seq 150); do [ "$(push_state "$p")" = idling ] && break; sleep 0.1; done
    [ "$(push_state "$p")" = idling ] ||
      { echo "push is $(push_state "$p"), not idling; see $work/state/himalaya/coord.log" >&2; exit 1; }
  fi
  for _ in $(seq 100); do [ -d "$mail/Mail/INBOX/cur" ] && break; sleep 0.1; done  # the first sync
  echo "== $name: 3 Neovims, push $push, interval $interval s; $deliveries deliveries," \
    "gaps $gap_min..$gap_max s (random, seed $seed)"
  python3 "$work/measure.py" "$mail/mail/alice" "$mail/Mail/INBOX" "$deliveries" \
    "$gap_min" "$gap_max" "$seed" "$name" "$work/state/himalaya/coord.log" >"$work/$name.txt"
  for i in "${pids[@]}"; do kill -9 "$i" 2>/dev/null || true; done
  pids=()
  summary "$name"
  if [ "$push" = true ] && [ -s "$work/state/himalaya/breakdown-$name" ]; then
    read -r to_exists to_start <"$work/state/himalaya/breakdown-$name"
    echo "   $name, where the time goes (medians, from the hosts' log, ms resolution):" \
      "delivery -> the server's EXISTS to the watcher $to_exists s;" \
      "-> the push sync's start $to_start s; the rest is mbsync"
  fi
}

# summary NAME: median and p99 (nearest rank) of $work/NAME.txt.
summary() {
  local timeouts
  timeouts=$(grep -c timeout "$work/$1.txt" || true)
  grep -v timeout "$work/$1.txt" | sort -n | awk -v name="$1" -v to="$timeouts" '
    { v[NR] = $1 }
    END {
      n = NR; if (n == 0) { printf "   %s: no delivery arrived (%d timeouts)\n", name, to; exit }
      med = n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
      r = int(0.99 * n); if (r < 0.99 * n) r++
      printf "   %s: n=%d median %.3f s  p99 %.3f s  min %.3f s  max %.3f s  (%d did not arrive in 30 s)\n",
        name, n, med, v[r], v[1], v[n], to
      print med > "'"$work"'/" name ".median"
      print v[r] > "'"$work"'/" name ".p99"
    }'
}

case ${ONLY:-} in
  push-on) run push-on true 900; exit 0 ;;
  push-off) run push-off false 2; exit 0 ;;
esac
run push-on true 900
run push-off false 2

on=$(cat "$work/push-on.median")
on99=$(cat "$work/push-on.p99")
off=$(cat "$work/push-off.median")
off99=$(cat "$work/push-off.p99")
echo "== summary (delivery to file in the local Maildir)"
awk -v on="$on" -v on99="$on99" -v off="$off" -v off99="$off99" 'BEGIN {
  printf "   push on  (interval 900): median %.3f s, p99 %.3f s   targets: median <= 0.5 s %s, p99 <= 1.5 s %s\n",
    on, on99, on <= 0.5 ? "met" : "NOT met", on99 <= 1.5 ? "met" : "NOT met"
  printf "   push off (interval 2):   median %.3f s, p99 %.3f s   (%.1fx the push median, %.1fx its p99)\n",
    off, off99, off / on, off99 / on99
  printf "   push off (interval 900, the default): mean wait 900/2 = 450 s, worst 900 s   (%.0fx the push median, %.0fx the push p99 for the worst)\n",
    450 / on, 900 / on99
}'
