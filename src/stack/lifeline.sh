#!/usr/bin/env bash
# Usage: lifeline.sh OWNER_PID command [args...]
# Runs the command and stops it when OWNER_PID is gone, so a test run or `npm start` that is
# SIGKILLed leaves no broker or redis-server behind. A TERM/INT to this script stops the
# command gracefully (TERM, then KILL after stopGraceS). SIGINT (Ctrl-C) is ignored here.
set -u
owner=$1; shift
stopGraceS=30
"$@" &
child=$!
stop() {
  kill -TERM "$child" 2>/dev/null
  for _ in $(seq 1 $((stopGraceS * 5))); do kill -0 "$child" 2>/dev/null || break; sleep 0.2; done
  kill -KILL "$child" 2>/dev/null
  wait "$child"
  exit $?
}
trap stop TERM
trap '' INT # Ctrl-C is the owner's to handle: it stops us (TERM) after its own shutdown
while kill -0 "$owner" 2>/dev/null && kill -0 "$child" 2>/dev/null; do sleep 0.5 & wait $!; done
kill -0 "$child" 2>/dev/null && stop
wait "$child"
