#!/bin/sh
# A stand-in for mbsync whose outcome the test chooses while the fleet runs.
#
#   event_sync.sh MODE_FILE
#
# MODE_FILE holds one word: "ok" exits 0 after 50 ms; "fail" writes an error
# to stderr and exits 1; "hang" sleeps far beyond any test's sync timeout, so
# the host stops it and records timed_out. A missing file means ok.
mode=$(cat "$1" 2>/dev/null)
case $mode in
fail)
  echo "IMAP command LOGIN returned an error: NO [UNAVAILABLE] try later" >&2
  exit 1
  ;;
hang)
  exec sleep 120
  ;;
*)
  exec sleep 0.05
  ;;
esac
