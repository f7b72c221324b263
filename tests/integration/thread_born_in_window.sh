#!/usr/bin/env bash
# A thread created while a CPU window is open gets its own timer armed (within
# the monitor's 100-ms rescan) and is sampled in proportion to its CPU.
. "$(dirname "$0")/lib.sh"
require_go
write_config "$WORK/c.json" '{ "interval_ms": 100, "dump_dir": "@DUMPS@",
  "cpu": { "min": 0, "abs": '"$BUSY_ABS"', "window": 0, "cooldown_s": 600, "profile_seconds": 3 } }'
# On one CPU (on_one_cpu), so that while both burn they get equal CPU whatever
# else runs on the machine: left alone for its first second, then half each.
on_one_cpu under_shim "$WORK/c.json" "$WORKLOADS/two_threads" 2.5 1 >/dev/null || fail "workload failed"
f="$DUMPS/$(dumps_of_kind cpu)"
[ -f "$f" ] || fail "no profile"
pprof -tags -sample_index=samples "$f" > "$WORK/tags" || fail "pprof -tags failed"
right=$(awk '/burner-right/ { print $1; exit }' "$WORK/tags")
left=$(awk '/burner-left/ { print $1; exit }' "$WORK/tags")
note "left=$left right=${right:-0} (right started 1 s after left, ~0.9 s into the window)"
[ -n "$right" ] || { cat "$WORK/tags" >&2; fail "the thread born in the window has no samples"; }
# Right burns for ~2.1 s of the 3-s window, at half the CPU left had alone for
# its first 0.9 s: about 0.54 of left's samples (more when other processes
# share the CPU), 0.51 with a timer armed 100 ms late, 0 never armed.
awk -v l="$left" -v r="$right" 'BEGIN { exit !(r >= 0.45 * l) }' || fail "right has too few samples ($right vs $left)"
exit 0
