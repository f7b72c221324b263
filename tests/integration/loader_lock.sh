#!/usr/bin/env bash
# Threads that hold the C library's loader lock most of the time (looping in
# dl_iterate_phdr) are sampled without deadlock: the signal handler never
# takes that lock (unwind tables come from a snapshot the monitor builds).
#
# The program runs until it has been through PROFILES CPU windows (each one
# starts with the monitor building its snapshot while the four threads fight
# over the lock, then samples them), not for a fixed time: four threads
# handing a lock to each other get little CPU on a loaded machine (0.1-0.35
# CPU seen), so a 4-s run beside another suite made one profile, not two.
# For the same reason the rule's threshold is 0.02 CPU (idle, the process
# uses ~0.001). A hang — the program or its windows stuck — is a deadlock.
. "$(dirname "$0")/lib.sh"
require_go
PROFILES=3
HANG_S=60   # no PROFILES windows in this long, or no exit this long after SIGUSR1: a hang
abs=$(cpu_percent 0.02)
write_config "$WORK/c.json" '{ "interval_ms": 100, "dump_dir": "@DUMPS@",
  "cpu": { "min": 0, "abs": '"$abs"', "window": 0, "cooldown_s": 1, "profile_seconds": 1 } }'
LD_PRELOAD="$LIBCONAN" CONAN_CONFIG="$WORK/c.json" "$WORKLOADS/loader_busy" $((2 * HANG_S)) >"$WORK/out" &
pid=$!
at_exit 'kill -KILL $pid 2>/dev/null'
deadline=$((SECONDS + HANG_S))
while [ "$(count_dumps cpu)" -lt $PROFILES ] && kill -0 $pid 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
n=$(count_dumps cpu)
if [ "$n" -lt $PROFILES ]; then
    kill -0 $pid 2>/dev/null || { wait $pid; fail "the program ended early (status $?) after $n profiles"; }
    fail "$n CPU profiles in $HANG_S s of loader-lock contention (want $PROFILES): hung? $(cat "$DUMPS/events.jsonl" 2>/dev/null)"
fi
kill -USR1 $pid 2>/dev/null
deadline=$((SECONDS + HANG_S))
while kill -0 $pid 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
kill -0 $pid 2>/dev/null && fail "the program hung (deadlock) under the shim: no exit $HANG_S s after SIGUSR1"
wait $pid; rc=$?
[ $rc -eq 0 ] && [ "$(cat "$WORK/out")" = done ] || fail "exit $rc, output: $(cat "$WORK/out")"
! grep -q '"error"' "$DUMPS/events.jsonl" || fail "a window failed: $(grep '"error"' "$DUMPS/events.jsonl")"
files=$(dumps_of_kind cpu | sed "s|^|$DUMPS/|")
# shellcheck disable=SC2086 # one argument per profile: pprof merges them
pprof -top -cum $files | grep -q "walk_loaded_objects" || fail "walk_loaded_objects not in the stacks of $n profiles"
note "$n profiles; samples and drops: $(grep -o '"samples":[0-9]*,"dropped":[0-9]*' "$DUMPS/events.jsonl" | paste -sd' ')"
exit 0
