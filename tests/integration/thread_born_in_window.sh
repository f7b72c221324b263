#!/usr/bin/env bash
# A thread created while a CPU window is open gets its own timer armed (within
# the monitor's 100-ms rescan) and is sampled in proportion to its CPU.
# Both threads log their CPU time as they go (two_threads LOG), and window_cpu
# reads what each got inside the window: a loaded machine gives them less than
# the wall time, and not equally (right >= 0.45 x left, from "right burns for
# 2 of the 3 s", did not hold beside another test suite).
. "$(dirname "$0")/lib.sh"
require_go
write_config "$WORK/c.json" '{ "interval_ms": 100, "dump_dir": "@DUMPS@",
  "cpu": { "min": 0, "abs": '"$BUSY_ABS"', "window": 0, "cooldown_s": 600, "profile_seconds": 3 } }'
under_shim "$WORK/c.json" "$WORKLOADS/two_threads" 3.5 1 "$WORK/cpu.log" >/dev/null || fail "workload failed"
f="$DUMPS/$(dumps_of_kind cpu)"
[ -f "$f" ] || fail "no profile"
pprof -tags -sample_index=samples "$f" > "$WORK/tags" || fail "pprof -tags failed"
right=$(awk '/burner-right/ { print $1; exit }' "$WORK/tags")
left=$(awk '/burner-left/ { print $1; exit }' "$WORK/tags")
window_cpu "$f" "$WORK/cpu.log" > "$WORK/cpu"
left_cpu=$(awk '$1 == "left" { print $2 }' "$WORK/cpu")
right_cpu=$(awk '$1 == "right" { print $2 }' "$WORK/cpu")
note "left=$left right=${right:-0} samples, for ${left_cpu}/${right_cpu} CPU-s in the window (right started 1 s after left, ~0.9 s into it)"
[ -n "$right" ] || { cat "$WORK/tags" >&2; fail "the thread born in the window has no samples"; }
# Each at 100 Hz of its CPU in the window, less one partial period; right may
# lose what it burned before its timer was armed (up to the 100-ms rescan,
# at most a tenth of its ~2 s in the window): 80% of its share, 90% of left's.
awk -v l="$left" -v r="$right" -v lc="$left_cpu" -v rc="$right_cpu" 'BEGIN {
    if (100 * rc < 4) { print "FAIL: right got only " rc " CPU-s in the window, nothing to judge" > "/dev/stderr"; exit 1 }
    if (l < 0.9 * 100 * lc - 1) { printf "FAIL: left has %d samples for %.3f CPU-s\n", l, lc > "/dev/stderr"; exit 1 }
    if (r < 0.8 * 100 * rc - 1) { printf "FAIL: right has %d samples for %.3f CPU-s\n", r, rc > "/dev/stderr"; exit 1 }
}' || exit 1
exit 0
