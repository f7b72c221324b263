#!/usr/bin/env bash
# Two threads burning equal CPU for the whole window: each gets 40–60% of the
# samples, and the total is at least 90% of hz × the CPU-seconds the window
# saw (per-thread timers). Both threads run on one CPU (on_one_cpu), so they
# get equal CPU whatever else runs on the machine, and the total is judged
# against the CPU they got (the event's cpu_s), not against 2 CPUs × the
# window: beside another suite they got far less, and unequal shares.
. "$(dirname "$0")/lib.sh"
require_go
write_config "$WORK/c.json" '{ "interval_ms": 100, "dump_dir": "@DUMPS@",
  "cpu": { "min": 0, "abs": '"$BUSY_ABS"', "window": 0, "cooldown_s": 600, "profile_seconds": 2, "hz": 100 } }'

# 1.5 s of CPU each, sharing one CPU: both outlive the 2-s window.
on_one_cpu under_shim "$WORK/c.json" "$WORKLOADS/two_threads" 1.5 >/dev/null || fail "workload failed"
[ "$(count_dumps cpu)" -eq 1 ] || fail "want 1 cpu dump, got $(count_dumps cpu)"
f="$DUMPS/$(dumps_of_kind cpu)"
line=$(head -1 "$DUMPS/events.jsonl")
[ "$(json_field "$line" timer)" = thread ] || fail "timer was not per-thread: $line"
duration=$(json_field "$line" duration_s)
cpu_s=$(json_field "$line" cpu_s)

# Samples per thread label, as pprof reads them.
pprof -tags -sample_index=samples "$f" > "$WORK/tags" || fail "pprof -tags failed: $(cat "$WORK/pprof.err")"
left=$(awk '/burner-left/ { print $1; exit }' "$WORK/tags")
right=$(awk '/burner-right/ { print $1; exit }' "$WORK/tags")
[ -n "$left" ] && [ -n "$right" ] || { cat "$WORK/tags" >&2; fail "thread labels missing"; }
note "left=$left right=$right duration=${duration}s cpu=${cpu_s}s"
awk -v l="$left" -v r="$right" -v c="$cpu_s" 'BEGIN {
    total = l + r; expected = 100 * c
    share = l / total
    printf "# share(left)=%.3f total=%d expected=%.0f ratio=%.3f\n", share, total, expected, total / expected
    if (share < 0.40 || share > 0.60) { print "FAIL: left share " share " outside 40-60%" > "/dev/stderr"; exit 1 }
    # each thread loses at most its last, partial 10 ms when the window closes
    if (total < 0.90 * expected - 2) { print "FAIL: " total " samples < 90% of " expected " (less 2)" > "/dev/stderr"; exit 1 }
}' || exit 1
for fn in burn_left burn_right; do
    pprof -top -sample_index=samples "$f" | grep -q " $fn\$" || fail "$fn not in the profile"
done
exit 0
