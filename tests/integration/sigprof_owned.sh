#!/usr/bin/env bash
# A program that owns SIGPROF (its own handler and ITIMER_PROF, from the start
# of main) keeps it: the shim logs once, opens no CPU window, and the
# program's handler keeps firing. Without the flight recorder no CPU profile
# is written at all; with it, the recorder steps aside within a tick, and a
# trip gets at most the recorder's profile of the moments before main took
# SIGPROF, whose event says why there is no window.
. "$(dirname "$0")/lib.sh"
write_config "$WORK/c.json" '{ "interval_ms": 100, "dump_dir": "@DUMPS@", "recorder": { "enable": false },
  "cpu": { "min": 0, "abs": '"$BUSY_ABS"', "window": 0, "cooldown_s": 0, "profile_seconds": 1 } }'
out=$(under_shim "$WORK/c.json" "$WORKLOADS/sigprof_user" 1500 2>"$WORK/err") || fail "workload failed"
[ "$out" = "handler kept: yes, ticks enough: yes" ] || fail "the program's SIGPROF was disturbed: $out"
[ "$(count_dumps cpu)" -eq 0 ] || fail "a CPU profile was taken from a program that owns SIGPROF"
[ "$(grep -c 'libconan: the program uses SIGPROF' "$WORK/err")" -eq 1 ] || fail "want one log line, got: $(cat "$WORK/err")"
grep -q '"error":"the program owns SIGPROF"' "$DUMPS/events.jsonl" || fail "no event line says why"

rm -rf "$DUMPS"
write_config "$WORK/c.json" '{ "interval_ms": 100, "dump_dir": "@DUMPS@",
  "cpu": { "min": 0, "abs": '"$BUSY_ABS"', "window": 0, "cooldown_s": 60, "profile_seconds": 1 } }'
out=$(under_shim "$WORK/c.json" "$WORKLOADS/sigprof_user" 1500 2>"$WORK/err") || fail "workload failed (recorder on)"
[ "$out" = "handler kept: yes, ticks enough: yes" ] || fail "the program's SIGPROF was disturbed with the recorder on: $out"
[ "$(grep -c 'libconan: the program uses SIGPROF' "$WORK/err")" -eq 1 ] || fail "want one log line, got: $(cat "$WORK/err")"
[ "$(count_dumps cpu)" -le 1 ] || fail "more than one CPU profile in a cooldown"
line=$(grep '"kind":"cpu"' "$DUMPS/events.jsonl") || fail "no CPU event"
if [ "$(count_dumps cpu)" -eq 1 ]; then
    printf '%s' "$line" | grep -q '"timer":"recorder"' || fail "a CPU window ran in a program that owns SIGPROF: $line"
    printf '%s' "$line" | grep -q 'no CPU window: the program owns SIGPROF' || fail "the event does not say why: $line"
else
    printf '%s' "$line" | grep -q '"error":"the program owns SIGPROF"' || fail "no event line says why: $line"
fi
exit 0
