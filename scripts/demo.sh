#!/usr/bin/env bash
# The README's first command: installs what is missing, builds, and shows the
# main job against a real mail stack:
#   - a private Dovecot IMAP server on loopback (scripts/mailserver.sh), over
#     TLS, with a few messages, and three headless Neovims with the plugin,
#     sharing one state file, whose sync command is the real
#     `mbsync -c <rc> -a`;
#   - they elect one primary; each prints its role and :HimalayaSyncStatus;
#   - only the primary syncs, once per interval for the whole fleet: a message
#     delivered to the server shows up in the local Maildir within an interval,
#     and Dovecot counts one IMAP login per interval;
#   - the primary's Neovim is killed (SIGKILL), another takes over at once, and
#     the schedule goes on: still one login per interval, with two Neovims;
#   - push (SPEC §10): three fresh Neovims with push on and the default
#     interval of 900 s; Dovecot shows one IDLE connection for the three, and
#     a delivered message is in the local Maildir well under a second later;
#   - the schedule policies (SPEC §11: priority election, away, adaptive),
#     each beside its baseline, on the simulator;
#   - with --channels, also sync.channels (SPEC §11, scripts/demo_channels.sh):
#     three Neovims share six mbsync channels, and a killed owner's channels
#     move to the others.
# Intervals are scaled down (SPEC §3 allows fractional seconds). Everything
# lives in a temporary directory that is removed at the end, with Dovecot and
# the Neovims stopped, even after Ctrl-C or an error; the user's own Neovim
# configuration, state and mail are never touched.
#
# Environment: BUILD_DIR (default: <repo>/build) is where the host is built.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build}
channels_part=0
case "${1:-}" in
  "") ;;
  --channels) channels_part=1 ;;
  *) echo "usage: scripts/demo.sh [--channels]" >&2; exit 2 ;;
esac

interval=2      # seconds between automatic syncs, fleet-wide
windows=4       # intervals measured before and after the kill

as_root=()      # Dovecot needs root; the Neovims run as the calling user
if [ "$(id -u)" -ne 0 ]; then
  as_root=(sudo)
fi

demo=$(mktemp -d /tmp/himalaya-demo.XXXXXX)
mail="$demo/mail"  # the mail server's directory (scripts/mailserver.sh)
pids=()            # the Neovims' pids; nvim-N is pids[N-1]
cleaning=0
cleanup() {
  local status=$?
  [ "$cleaning" = 1 ] && return
  cleaning=1
  trap '' INT TERM HUP
  set +e
  [ "$status" = 0 ] || echo "== stopping the Neovims and Dovecot, removing $demo" >&2
  local pid i
  local -a left
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  # Each host exits on its own when its Neovim's channel closes, stopping a
  # running mbsync; anything still left (matched by a variable only the
  # demo's processes carry) is killed after 3 s.
  for i in $(seq 60); do
    read -r -a left <<<"$(demo_processes)"
    [ "${#left[@]}" = 0 ] && break
    [ "$i" = 60 ] && kill -9 "${left[@]}" 2>/dev/null
    sleep 0.05
  done
  if [ -e "$mail/dovecot.conf" ]; then
    "${as_root[@]}" "$root/scripts/mailserver.sh" stop "$mail" || true
  fi
  "${as_root[@]}" rm -rf "$demo"
}
demo_processes() {  # pids of the hosts and mbsyncs that the demo's Neovims started
  local p
  for p in $(pgrep -x himalaya-coord) $(pgrep -x mbsync); do
    grep -qzx "HIMALAYA_DEMO=$demo" "/proc/$p/environ" 2>/dev/null && printf '%s ' "$p"
  done
  return 0
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

"$root/scripts/install-deps.sh"
echo "== building the host into $build (a few minutes the first time)"
# The demo needs only the host: the tests are left out of this build.
if ! BUILD_DIR="$build" "$root/scripts/build.sh" -DHIMALAYA_TESTS=OFF >"$demo/build.log" 2>&1; then
  tail -n 40 "$demo/build.log" >&2
  echo "the build failed" >&2
  exit 1
fi

# --- the mail server -------------------------------------------------------
chmod 711 "$demo"  # Dovecot's mail processes (user nobody) reach $mail through it
server=$("${as_root[@]}" "$root/scripts/mailserver.sh" start "$mail")
host=$(sed -n 's/^HOST=//p' <<<"$server")
port=$(sed -n 's/^PORT=//p' <<<"$server")
tls=$(sed -n 's/^TLS=//p' <<<"$server")
mbsyncrc=$(sed -n 's/^MBSYNCRC=//p' <<<"$server")
if [ "${#as_root[@]}" -gt 0 ]; then  # mbsync runs as the user: give it the local side
  "${as_root[@]}" chown -R "$(id -u):$(id -g)" "$mail/Mail"
fi
deliver() { "${as_root[@]}" "$root/scripts/mailserver.sh" deliver "$mail" "$1"; }
local_mail() {  # messages in the local (mbsync's) INBOX
  find "$mail/Mail/INBOX/new" "$mail/Mail/INBOX/cur" -type f 2>/dev/null | wc -l
}
for n in 1 2 3; do deliver "Welcome $n"; done
echo "== Dovecot on $host:$port (user alice, $tls with a self-signed certificate"\
  "that mbsync trusts), 3 messages delivered to the server"

# --- three Neovims ---------------------------------------------------------
mkdir -p "$demo"/{config,state,data,cache,runtime}
chmod 700 "$demo/runtime"
hostlog="$demo/state/himalaya/coord.log"  # the hosts' shared log (default log_file)

cat >"$demo/init.lua" <<LUA
vim.opt.runtimepath:prepend('$root')
require('himalaya_coord').setup({
  binary = '$build/himalaya-coord',
  sync = {
    interval = $interval,
    startup_delay = 0.5,
    command = { 'mbsync', '-c', '$mbsyncrc', '-a' },
    coordination = { heartbeat_interval = 0.2, takeover_threshold = 1.5, sync_cooldown = 1 },
    push = { enabled = false }, -- the timer alone here; push has its own part below
  },
})
function _G.demo_role()
  local s = require('himalaya_coord').status(1000)
  return s and s.instance.role or '?'
end
function _G.demo_status(path)
  vim.fn.writefile(require('himalaya_coord').status_lines(), path)
  return ''
end
function _G.demo_push()
  local s = require('himalaya_coord').status(1000)
  return s and s.push and s.push.state or '?'
end
function _G.demo_channels()
  local s = require('himalaya_coord').status(1000)
  local mine = {}
  for _, c in ipairs(s and s.channels or {}) do
    if c.owner == s.instance.id then
      table.insert(mine, c.name)
    end
  end
  return table.concat(mine, ' ')
end
function _G.demo_instances()
  local s = require('himalaya_coord').status(1000)
  return s and s.instances and #s.instances or 0
end
LUA

export HOME="$demo" XDG_CONFIG_HOME="$demo/config" XDG_STATE_HOME="$demo/state" \
  XDG_DATA_HOME="$demo/data" XDG_CACHE_HOME="$demo/cache" XDG_RUNTIME_DIR="$demo/runtime"

now_ms() { date +%s%3N; }
secs() { awk -v ms="$1" 'BEGIN { printf "%.2f", ms / 1000 }'; }
remote() {  # remote N EXPR: evaluates EXPR in Neovim N
  # Neovim 0.7 prints the result of --remote-expr on stderr, 0.10 and later
  # on stdout: read both (the one unused stays empty).
  nvim --server "$demo/nvim$1.sock" --remote-expr "$2" 2>&1 || true
}
alive() { kill -0 "${pids[$(($1 - 1))]}" 2>/dev/null; }
roles() {
  for i in 1 2 3; do
    alive "$i" || continue
    printf '   nvim-%s (pid %s): %s\n' "$i" "${pids[$((i - 1))]}" "$(remote "$i" 'v:lua.demo_role()')"
  done
}
primary_index() {
  for i in 1 2 3; do
    alive "$i" || continue
    if [ "$(remote "$i" 'v:lua.demo_role()')" = "Primary Coordinator" ]; then
      echo "$i"
      return
    fi
  done
}
status_of() {  # status_of N FILE: writes the :HimalayaSyncStatus report of Neovim N
  remote "$1" "v:lua.demo_status('$2')" >/dev/null
}
declare -A label=()  # host pid -> nvim-N
learn_labels() {  # from each host's log line "registered on channel C as nvim_<time>_<nvim pid>"
  local hostpid id i
  while read -r hostpid id; do
    for i in 1 2 3; do
      if [ "${id##*_}" = "${pids[$((i - 1))]}" ]; then label[$hostpid]="nvim-$i"; fi
    done
  done < <(sed -n 's/^[^ ]* \([0-9]*\) info: registered on channel .* as \(nvim_[0-9_]*\)$/\1 \2/p' \
    "$hostlog")
}
stamp() { date -d "@$(($1 / 1000)).$(printf %03d $(($1 % 1000)))" "+$2"; }  # stamp MS FORMAT
log_ms() { date -d "${1/T/ }" +%s%3N; }  # a host log timestamp in ms
count_syncs() { grep -c ' info: automatic sync started' "$hostlog" 2>/dev/null || true; }
wait_next_sync() {  # until a sync starts after the ones already logged (at most 3 intervals)
  local before i
  before=$(count_syncs)
  for i in $(seq $((interval * 60))); do
    [ "$(count_syncs)" -gt "$before" ] && return 0
    sleep 0.05
  done
  echo "no sync started within $((interval * 3)) s; see $hostlog" >&2
  exit 1
}
sleep_until() { sleep "$(awk -v end="$1" -v now="$(now_ms)" 'BEGIN { s = (end - now) / 1000; print (s > 0 ? s : 0) }')"; }
prev=-1  # second of the day of the last sync listed
show_window() {  # show_window FROM_MS TO_MS NEOVIMS: the syncs started then, and Dovecot's count
  local map="" h line logins
  for h in "${!label[@]}"; do map+="$h=${label[$h]} "; done
  # The logs' timestamps are local times, compared as strings.
  while IFS= read -r line; do
    case $line in
      PREV\ *) prev=${line#PREV } ;;
      *) echo "$line" ;;
    esac
  done < <(awk -v from="$(stamp "$1" %Y-%m-%dT%H:%M:%S.%3N)" -v to="$(stamp "$2" %Y-%m-%dT%H:%M:%S.%3N)" \
    -v map="$map" -v prev="$prev" '
    BEGIN { n = split(map, m, " "); for (i = 1; i <= n; i++) { split(m[i], kv, "="); who[kv[1]] = kv[2] } }
    / info: automatic sync started/ && $1 >= from && $1 < to {
      clock = substr($1, index($1, "T") + 1); split(clock, t, ":")
      s = t[1] * 3600 + t[2] * 60 + t[3]
      if (prev >= 0 && s < prev) s += 86400  # past midnight
      gap = prev >= 0 ? sprintf("  %.2f s after the previous", s - prev) : ""
      printf "   sync at %s by %s%s\n", clock, ($2 in who ? who[$2] : "host " $2), gap
      prev = s
    }
    END { print "PREV " prev }' "$hostlog")
  logins=$(awk -v from="$(stamp "$1" '%Y-%m-%d %H:%M:%S.%3N')" -v to="$(stamp "$2" '%Y-%m-%d %H:%M:%S.%3N')" \
    '/imap-login: Info: (Login|Logged in): user=<alice>/ { t = $1 " " $2; if (t >= from && t < to) n++ } END { print n + 0 }' \
    "$mail/dovecot.log")
  awk -v n="$logins" -v len="$(($2 - $1))" -v iv="$interval" -v nv="$3" 'BEGIN {
    printf "   Dovecot counted %d IMAP logins in these %.2f s (%.2f intervals), with %d Neovims\n",
      n, len / 1000, len / 1000 / iv, nv }'
}

echo "== starting 3 headless Neovims, interval ${interval} s, sync command: mbsync -c <rc> -a"
start_neovims() {  # start_neovims INIT: nvim-1..3 (pids[0..2]) with INIT, until their hosts are ready
  local i
  pids=()
  rm -f "$demo"/nvim?.sock
  for i in 1 2 3; do
    HIMALAYA_DEMO="$demo" nvim --headless -n -i NONE -u "$1" \
      --listen "$demo/nvim$i.sock" </dev/null >/dev/null 2>"$demo/nvim$i.err" &
    pids+=($!)
    disown
  done
  for i in 1 2 3; do
    for _ in $(seq 100); do [ -S "$demo/nvim$i.sock" ] && break; sleep 0.05; done
    [ "$(remote "$i" "luaeval(\"require('himalaya_coord').wait_ready(5000) and 1 or 0\")")" = 1 ] ||
      { echo "nvim-$i: host not ready; see $demo/nvim$i.err" >&2; exit 1; }
  done
}
start_neovims "$demo/init.lua"
for _ in $(seq 100); do  # until every instance has registered in the state file
  [ "$(remote 1 'v:lua.demo_instances()')" = 3 ] && break
  sleep 0.05
done
echo "== roles after the election"
roles
p=$(primary_index)
[ -n "$p" ] || { echo "no primary; see $hostlog" >&2; exit 1; }

[ "$(count_syncs)" -gt 0 ] || wait_next_sync
for _ in $(seq 40); do [ "$(local_mail)" -ge 3 ] && break; sleep 0.05; done
echo "== first sync done: the local Maildir holds $(local_mail) messages"

echo
echo "== :HimalayaSyncStatus in nvim-$p, the primary"
status_of "$p" "$demo/status$p.txt"
sed 's/^/   | /' "$demo/status$p.txt"
for i in 1 2 3; do  # the secondaries: their first two sections
  [ "$i" = "$p" ] && continue
  status_of "$i" "$demo/status$i.txt"
  echo "== :HimalayaSyncStatus in nvim-$i (its first two sections)"
  awk '/^## Sync History/ { exit } /^## / { on = 1 } on && NF { print "   | " $0 }' "$demo/status$i.txt"
done

# Measure from the middle of an interval, so that no sync falls on an edge of
# a window; the kill, a whole number of intervals later, is mid-interval too.
# The fleet's schedule is last sync start + interval (SPEC §5).
learn_labels
mid=$(($(log_ms "$(grep ' info: automatic sync started' "$hostlog" | tail -n 1 | cut -d' ' -f1)") +
  interval * 500))
while [ "$mid" -lt $(($(now_ms) + 200)) ]; do mid=$((mid + interval * 1000)); done
sleep_until "$mid"
echo
from=$(now_ms)
have=$(local_mail)
deliver "Fresh news"
delivered=$(now_ms)
for _ in $(seq $((interval * 40))); do
  [ "$(local_mail)" -gt "$have" ] && break
  sleep 0.025
done
if [ "$(local_mail)" -gt "$have" ]; then
  # When mbsync wrote it: the newest file's modification time.
  arrived=$(find "$mail/Mail/INBOX/new" "$mail/Mail/INBOX/cur" -type f -printf '%T@\n' |
    sort -n | tail -n 1 | awk '{ printf "%.0f", $1 * 1000 }')
  echo "== mail arrives: a message delivered to the server at $(stamp "$delivered" %H:%M:%S.%3N) was"
  echo "   written to the local Maildir $(secs $((arrived - delivered))) s later (interval ${interval} s)"
else
  echo "== mail arrives: the message delivered at $(stamp "$delivered" %H:%M:%S.%3N) is NOT local" \
    "after $(secs $(($(now_ms) - delivered))) s"
fi

victim=$p
log_lines=$(wc -l <"$hostlog")
sleep_until $((mid + windows * interval * 1000))
killed=$(now_ms)
kill -9 "${pids[$((victim - 1))]}"
echo "== $windows intervals with 3 Neovims"
show_window "$from" "$killed" 3
echo
echo "== SIGKILL of the primary's Neovim, nvim-$victim (pid ${pids[$((victim - 1))]}), at $(stamp "$killed" %H:%M:%S.%3N)"
line=""
for _ in $(seq 200); do
  line=$(tail -n +"$((log_lines + 1))" "$hostlog" | grep -m1 ' info: role: .* -> Primary Coordinator' || true)
  [ -n "$line" ] && break
  sleep 0.025
done
if [ -n "$line" ]; then
  read -r ts hostpid _ <<<"$line"
  echo "   ${label[$hostpid]:-host $hostpid} took over $(($(log_ms "$ts") - killed)) ms after the kill (from the hosts' log)"
else
  echo "   no takeover in the hosts' log within 5 s"
fi
roles
sleep_until $((mid + 2 * windows * interval * 1000))
to=$(now_ms)
echo "== $windows intervals with 2 Neovims, after the kill"
show_window "$killed" "$to" 2

p=$(primary_index)
echo
echo "== :HimalayaSyncStatus in nvim-$p, the new primary (its Sync History)"
status_of "$p" "$demo/status.txt"
sed -n '/^## Sync History/,/^$/p' "$demo/status.txt" | sed '/^$/d; s/^/   | /'

# --- push --------------------------------------------------------------------
echo
echo "== push: the Neovims make way for three fresh ones with push on and the default interval, 900 s"
for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
sed -e "s/^    interval = .*/    interval = 900,/" \
  -e "s/^    push = { enabled = false }.*/    push = { enabled = true },/" "$demo/init.lua" >"$demo/init-push.lua"
log_lines=$(wc -l <"$hostlog")
start_neovims "$demo/init-push.lua"
p=""
for _ in $(seq 100); do  # the killed Neovims' entries age out first (takeover_threshold)
  p=$(primary_index)
  [ -n "$p" ] && break
  sleep 0.1
done
[ -n "$p" ] || { echo "no primary; see $hostlog" >&2; exit 1; }
for _ in $(seq 150); do [ "$(remote "$p" 'v:lua.demo_push()')" = idling ] && break; sleep 0.1; done
imap_sessions() {  # Dovecot's IMAP sessions: one `dovecot/imap [alice IP COMMAND]` child each
  pgrep -a -P "$(cat "$mail/run/master.pid")" | cut -d' ' -f2- | grep '^dovecot/imap ' || true
}
for _ in $(seq 100); do  # until the startup sync's mbsync has logged out
  [ "$(imap_sessions | grep -vc ' IDLE]$')" = 0 ] && break
  sleep 0.05
done
roles
for i in 1 2 3; do printf '   nvim-%s push: %s\n' "$i" "$(remote "$i" 'v:lua.demo_push()')"; done
echo "   Dovecot's IMAP sessions now: $(imap_sessions | wc -l), in IDLE: $(imap_sessions | grep -c ' IDLE]$')"
imap_sessions | sed 's/^/     /'
status_of "$p" "$demo/status-push.txt"
echo "== :HimalayaSyncStatus in nvim-$p, the primary (its Push section)"
sed -n '/^## Push/,/^$/p' "$demo/status-push.txt" | sed '/^$/d; s/^/   | /'
# A push sync starts at once, or min_gap (2 s) after the last sync start: the
# delivery waits for the new fleet's first sync and then min_gap, as mail
# that arrives later would.
line=""
for _ in $(seq 200); do
  line=$(tail -n +"$((log_lines + 1))" "$hostlog" | grep -m1 ' info: automatic sync started' || true)
  [ -n "$line" ] && break
  sleep 0.05
done
[ -n "$line" ] && sleep_until $(($(log_ms "${line%% *}") + 2500))
have=$(local_mail)
began=$(now_ms)
deliver "Pushed news"
for _ in $(seq 500); do
  [ "$(local_mail)" -gt "$have" ] && break
  sleep 0.01
done
if [ "$(local_mail)" -gt "$have" ]; then
  arrived=$(find "$mail/Mail/INBOX/new" "$mail/Mail/INBOX/cur" -type f -printf '%T@\n' |
    sort -n | tail -n 1 | awk '{ printf "%.0f", $1 * 1000 }')
  echo "== mail arrives by push: a message delivered to the server at $(stamp "$began" %H:%M:%S.%3N) was"
  echo "   written to the local Maildir $(secs $((arrived - began))) s later; about 0.5 s of that is"
  echo "   Dovecot's own: it tells an idling client of a change 500 ms after it sees it"
  echo "   (timer interval 900 s: without push it would wait 450 s on average, 900 s at worst)"
else
  echo "== mail arrives by push: the message delivered at $(stamp "$began" %H:%M:%S.%3N) is NOT local" \
    "after $(secs $(($(now_ms) - began))) s"
fi

# The same coordinator code over simulated time (SPEC §13): a week of 20
# editors opening and closing, with kills, stops, suspends and clock jumps,
# and the primary's IMAP IDLE watcher (push) off and then on.
if [ -x "$build/sim/coord-sim" ]; then
  for push in "" --push; do
    echo
    echo "== coord-sim --seed 1 --instances 20 --days 7 $push (a simulated week, in seconds)"
    started=$(now_ms)
    "$build/sim/coord-sim" --seed 1 --instances 20 --days 7 ${push:+"$push"} | sed 's/^/   | /'
    echo "   ($(secs $(($(now_ms) - started))) s)"
  done
fi
# The schedule policies of SPEC §11, each beside its baseline on the same
# simulated workload: priority election (who succeeds a primary) against
# first-come succession, sync.away on and off for users away nights and
# weekends, and sync.adaptive against the fixed interval at the same number
# of syncs on bursty mail.
if [ -x "$build/sim/coord-sim" ]; then
  schedules=(
    "--compare-succession --seeds 5 --days 7 --instances 8 --no-faults --manual-per-day 0"
    "--away --instances 3 --days 7 --no-churn --no-faults --manual-per-day 0"
    "--compare-adaptive --mail bursty --days 21 --warmup 14 --no-churn --no-faults --manual-per-day 0 --instances 2"
  )
  for args in "${schedules[@]}"; do
    echo
    echo "== coord-sim $args"
    started=$(now_ms)
    # shellcheck disable=SC2086 # the options are words
    "$build/sim/coord-sim" $args | sed 's/^/   | /'
    echo "   ($(secs $(($(now_ms) - started))) s)"
  done
fi
if [ "$channels_part" = 1 ]; then
  # shellcheck source=scripts/demo_channels.sh
  . "$root/scripts/demo_channels.sh"
fi
echo "== done: stopping the Neovims and Dovecot, removing $demo"
