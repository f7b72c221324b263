#!/usr/bin/env bash
# A program that exits while a CPU window is open still leaves its profile (the
# samples so far, noted as such), its exit is delayed by at most the shim's
# 200-ms bound, and no temporary file is left behind.
. "$(dirname "$0")/lib.sh"
require_go
write_config "$WORK/c.json" '{ "interval_ms": 100, "dump_dir": "@DUMPS@",
  "cpu": { "abs": 20, "window": 0, "profile_seconds": 10 } }'
start=$(date +%s%N)
under_shim "$WORK/c.json" "$WORKLOADS/spike" 0 1500 1 0 7 >/dev/null 2>&1
rc=$?
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ $rc -eq 7 ] || fail "exit status $rc, want 7"
[ "$(count_dumps cpu)" -eq 1 ] || fail "want the partial profile, got $(count_dumps cpu) dumps"
line=$(head -1 "$DUMPS/events.jsonl")
printf '%s' "$line" | grep -q '"note":"stopped early: the program exited"' || fail "no exit note: $line"
samples=$(json_field "$line" samples)
cpu_s=$(json_field "$line" cpu_s)
note "exit after ${elapsed_ms} ms for a 1.5-s burst; partial profile with $samples samples over $cpu_s CPU-s"
# Against the CPU the process really got in the window (a loaded machine gives
# it less than the wall time): at least 70% of 100 Hz of that, and a window
# that did run for most of the burst.
awk -v n="$samples" -v c="$cpu_s" 'BEGIN { exit !(c >= 0.5 && n >= 0.7 * 100 * c) }' \
    || fail "only $samples samples over $cpu_s CPU-seconds at 100 Hz"
[ "$(top_function "$DUMPS/$(dumps_of_kind cpu)")" = burn_cpu_in_spike ] || fail "wrong top function"
[ -z "$(ls -A "$DUMPS" | grep '\.tmp$')" ] || fail "a temporary file was left"
[ "$elapsed_ms" -lt 1900 ] || fail "exit took ${elapsed_ms} ms for a 1.5-s program"
exit 0
