#!/usr/bin/env bash
# A program that owns SIGPROF (its own handler and ITIMER_PROF) keeps it: the
# shim logs once, takes no CPU profile, and the program's handler keeps firing.
. "$(dirname "$0")/lib.sh"
write_config "$WORK/c.json" '{ "interval_ms": 100, "dump_dir": "@DUMPS@",
  "cpu": { "min": 0, "abs": '"$BUSY_ABS"', "window": 0, "cooldown_s": 0, "profile_seconds": 1 } }'
out=$(under_shim "$WORK/c.json" "$WORKLOADS/sigprof_user" 1500 2>"$WORK/err") || fail "workload failed"
[ "$out" = "handler kept: yes, ticks enough: yes" ] || fail "the program's SIGPROF was disturbed: $out"
[ "$(count_dumps cpu)" -eq 0 ] || fail "a CPU profile was taken from a program that owns SIGPROF"
[ "$(grep -c 'libconan: the program uses SIGPROF' "$WORK/err")" -eq 1 ] || fail "want one log line, got: $(cat "$WORK/err")"
grep -q '"error":"the program owns SIGPROF"' "$DUMPS/events.jsonl" || fail "no event line says why"
exit 0
