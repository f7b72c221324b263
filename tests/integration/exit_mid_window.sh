#!/usr/bin/env bash
# A program that exits while a CPU window is open still leaves its profile (the
# samples so far, noted as such), its exit is delayed by at most the shim's
# 200-ms bound, and no temporary file is left behind.
. "$(dirname "$0")/lib.sh"
require_go
write_config "$WORK/c.json" '{ "interval_ms": 100, "dump_dir": "@DUMPS@",
  "cpu": { "min": 0, "abs": '"$BUSY_ABS"', "window": 0, "profile_seconds": 10 } }'
# The exit delay is timed from the program's last line ("burst 1 done", printed
# as its burst ends and main returns) to the end of its output (its exit), not
# over the whole run: start-up on a loaded machine is not the shim's exit.
{ under_shim "$WORK/c.json" "$WORKLOADS/spike" 0 1500 1 0 7 2>/dev/null; echo "status $?"; } | {
    read -r line && done_at=$EPOCHREALTIME
    read -r status
    printf '%s|%s|%s\n' "$line" "${status#status }" $(((${EPOCHREALTIME//[!0-9]/} - ${done_at//[!0-9]/}) / 1000))
} >"$WORK/run"
IFS='|' read -r line rc exit_ms <"$WORK/run"
[ "$line" = "burst 1 done" ] || fail "unexpected output: $line"
[ "$rc" = 7 ] || fail "exit status $rc, want 7"
[ "$(count_dumps cpu)" -eq 1 ] || fail "want the partial profile, got $(count_dumps cpu) dumps"
line=$(head -1 "$DUMPS/events.jsonl")
printf '%s' "$line" | grep -q '"note":"stopped early: the program exited"' || fail "no exit note: $line"
samples=$(json_field "$line" samples)
cpu_s=$(json_field "$line" cpu_s)
duration=$(json_field "$line" duration_s)
note "exit ${exit_ms} ms after the burst ended; partial profile of ${duration} s with $samples samples over $cpu_s CPU-s"
# A window that did run for most of the 1.5-s burst, in wall time; samples
# against the CPU the process really got in it (a loaded machine gives it
# less than the wall time): at least 70% of 100 Hz of that.
awk -v d="$duration" 'BEGIN { exit !(d >= 1.0) }' || fail "the window ran only ${duration} s of the 1.5-s burst"
awk -v n="$samples" -v c="$cpu_s" 'BEGIN { exit !(c > 0 && n >= 0.7 * 100 * c) }' \
    || fail "only $samples samples over $cpu_s CPU-seconds at 100 Hz"
[ "$(top_function "$DUMPS/$(dumps_of_kind cpu)")" = burn_cpu_in_spike ] || fail "wrong top function"
[ -z "$(ls -A "$DUMPS" | grep '\.tmp$')" ] || fail "a temporary file was left"
# 200 ms for the shim, the rest for the C library's exit and the pipe.
[ "$exit_ms" -lt 400 ] || fail "exit took ${exit_ms} ms after the program's work ended"
exit 0
