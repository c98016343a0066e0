#!/bin/sh
# A stand-in for mbsync in the end-to-end tests.
#
#   fake_sync.sh LOG LABEL SECONDS
#
# Appends "start LABEL <unix time>" to LOG, sleeps SECONDS, appends
# "end LABEL <unix time>", and exits 0. Each line is one short write with
# O_APPEND (>>), so lines from several instances never interleave. The time is
# `date +%s.%N`: the wall clock (CLOCK_REALTIME) with nanoseconds.
log=$1
label=$2
seconds=$3
printf 'start %s %s\n' "$label" "$(date +%s.%N)" >>"$log"
sleep "$seconds"
printf 'end %s %s\n' "$label" "$(date +%s.%N)" >>"$log"
