# Sourced by scripts/demo.sh --channels, after its other parts: sync.channels
# (SPEC §11) on the same mail stack. Three fresh Neovims share six mbsync
# channels (INBOX and five folders, each on its own interval); each runs only
# its own; the owner of "inbox" is killed, and its channels move to the other
# two and go on. Uses demo.sh's variables and functions (demo, mbsyncrc,
# hostlog, pids, remote, start_neovims, learn_labels, now_ms, stamp, ...).

echo
echo "== channels: three fresh Neovims share six mbsync channels"
for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
channels_rc="$demo/mbsyncrc-channels"
sed '/^Channel test/,$d' "$mbsyncrc" >"$channels_rc"  # the account and both stores
printf 'Channel inbox\nFar :remote:INBOX\nNear :local:INBOX\nCreate Both\n\n' >>"$channels_rc"
for box in Lists Work Archive Sent Drafts; do
  printf 'Channel %s\nFar :remote:%s\nNear :local:%s\nCreate Both\n\n' "${box,,}" "$box" "$box" \
    >>"$channels_rc"
  # mbsync creates a missing side only when the other one exists: the local
  # folder is made here, the server's by mbsync's first run.
  mkdir -p "$mail/Mail/$box"/{cur,new,tmp}
done
channels_list="{ name = 'inbox', interval = 2 }, { name = 'lists', interval = 3 },"
channels_list+=" { name = 'work', interval = 4 }, { name = 'archive', interval = 6 },"
channels_list+=" { name = 'sent', interval = 6 }, { name = 'drafts', interval = 8 }"
sed -e "s|^    command = .*|    command = { 'mbsync', '-c', '$channels_rc', '-a' },\n    channels = { $channels_list },|" \
  "$demo/init.lua" >"$demo/init-channels.lua"
echo "   sync.channels = { $channels_list }, max_parallel 2 (the default)"
log_lines=$(wc -l <"$hostlog")
start_neovims "$demo/init-channels.lua"
learn_labels
show_owners() {
  local i
  for i in 1 2 3; do
    alive "$i" || continue
    printf '   nvim-%s (%s) runs: %s\n' "$i" "$(remote "$i" 'v:lua.demo_role()')" \
      "$(remote "$i" 'v:lua.demo_channels()')"
  done
}
channel_runs() {  # channel_runs FROM_LINE: mbsync runs per channel and Neovim since that log line
  tail -n +"$1" "$hostlog" | awk -v map="$(for h in "${!label[@]}"; do printf '%s=%s ' "$h" "${label[$h]}"; done)" '
    BEGIN { n = split(map, m, " "); for (i = 1; i <= n; i++) { split(m[i], kv, "="); who[kv[1]] = kv[2] } }
    / info: channel [^ ]* synced in / { runs[$5 " by " ($2 in who ? who[$2] : "host " $2)]++ }
    END { for (k in runs) printf "   %-22s %d run(s)\n", k, runs[k] }' | sort
}
sleep 1
show_owners
sleep 8
echo "== mbsync runs in the first 9 s, by channel and Neovim (from the hosts' log)"
channel_runs "$((log_lines + 1))"
status_of 1 "$demo/status-channels.txt"
echo "== :HimalayaSyncStatus in nvim-1 (its Channels section)"
sed -n '/^## Channels/,/^$/p' "$demo/status-channels.txt" | sed '/^$/d; s/^/   | /'

victim=""
for i in 1 2 3; do
  case " $(remote "$i" 'v:lua.demo_channels()') " in *" inbox "*) victim=$i ;; esac
done
if [ -n "$victim" ]; then
  log_lines=$(wc -l <"$hostlog")
  killed=$(now_ms)
  kill -9 "${pids[$((victim - 1))]}"
  echo
  echo "== SIGKILL of nvim-$victim, the owner of inbox, at $(stamp "$killed" %H:%M:%S.%3N)"
  sleep 1
  show_owners
  sleep 8
  echo "== mbsync runs in the 9 s after the kill, by channel and Neovim"
  channel_runs "$((log_lines + 1))"
fi
