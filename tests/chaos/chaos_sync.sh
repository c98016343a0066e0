#!/bin/bash
# The sync command of the chaos test, a stand-in for mbsync.
#
#   chaos_sync.sh LOG STATE_FILE LABEL SECONDS
#
# Appends to LOG, one line per event, each a single short O_APPEND write:
#
#   start <pid> <label> <wall> <recorded>   when it starts
#   end <pid> <wall>                         when it finished by itself
#   term <pid> <wall>                        when it was stopped (SIGTERM)
#
# <pid> is this shell's pid, which keys the run; nothing else writes to LOG, so
# the children of a killed run (the sleep) cannot add to the record.
# <wall> is $EPOCHREALTIME, the wall clock read without forking. <recorded> is
# the state file's last_sync_time as this run finds it: the host writes its
# record of the start (SPEC §5 Records) before it launches the command, so this
# is the host's exact stamp for this run ("none" if the file had none).
#
# A host that dies sends its sync SIGTERM (PR_SET_PDEATHSIG), and a host that
# cancels a sync sends SIGTERM to the whole group. The shell sleeps in the
# background and waits with the `wait` builtin, which a trapped signal
# interrupts at once; the trap records the stop, kills the sleep and exits.
set -u
log=$1
state=$2
label=$3
seconds=$4
now=$EPOCHREALTIME
child=
recorded_end=

finish() {
  # $1: end or term. Written once, whichever way the run ends first.
  if [ -z "$recorded_end" ]; then
    recorded_end=1
    printf '%s %s %s\n' "$1" "$$" "$EPOCHREALTIME" >>"$log"
  fi
}

on_term() {
  finish term
  if [ -n "$child" ]; then
    kill -KILL "$child" 2>/dev/null
  fi
  exit 143
}
trap on_term TERM

recorded=none
text=
read -r -d '' text <"$state"
if [[ $text =~ \"last_sync_time\":([0-9.eE+-]+) ]]; then
  recorded=${BASH_REMATCH[1]}
fi
printf 'start %s %s %s %s\n' "$$" "$label" "$now" "$recorded" >>"$log"

sleep "$seconds" &
child=$!
wait "$child"
status=$?
if [ "$status" -ne 0 ]; then
  # The sleep was killed (SIGTERM to the group) before the trap ran.
  on_term
fi
finish end
