#!/usr/bin/env bash
# Two threads burning equal CPU for the whole window: each gets 40–60% of the
# samples, and the total is at least 90% of hz × seconds × 2 (per-thread timers).
. "$(dirname "$0")/lib.sh"
require_go
write_config "$WORK/c.json" '{ "interval_ms": 100, "dump_dir": "@DUMPS@",
  "cpu": { "abs": 30, "window": 0, "cooldown_s": 600, "profile_seconds": 2, "hz": 100 } }'

under_shim "$WORK/c.json" "$WORKLOADS/two_threads" 3.5 >/dev/null || fail "workload failed"
[ "$(count_dumps cpu)" -eq 1 ] || fail "want 1 cpu dump, got $(count_dumps cpu)"
f="$DUMPS/$(dumps_of_kind cpu)"
line=$(head -1 "$DUMPS/events.jsonl")
[ "$(json_field "$line" timer)" = thread ] || fail "timer was not per-thread: $line"
duration=$(json_field "$line" duration_s)

# Samples per thread label, as pprof reads them.
pprof -tags -sample_index=samples "$f" > "$WORK/tags" || fail "pprof -tags failed: $(cat "$WORK/pprof.err")"
left=$(awk '/burner-left/ { print $1; exit }' "$WORK/tags")
right=$(awk '/burner-right/ { print $1; exit }' "$WORK/tags")
[ -n "$left" ] && [ -n "$right" ] || { cat "$WORK/tags" >&2; fail "thread labels missing"; }
note "left=$left right=$right duration=${duration}s"
awk -v l="$left" -v r="$right" -v d="$duration" 'BEGIN {
    total = l + r; expected = 100 * d * 2
    share = l / total
    printf "# share(left)=%.3f total=%d expected=%.0f ratio=%.3f\n", share, total, expected, total / expected
    if (share < 0.40 || share > 0.60) { print "FAIL: left share " share " outside 40-60%" > "/dev/stderr"; exit 1 }
    if (total < 0.90 * expected) { print "FAIL: " total " samples < 90% of " expected > "/dev/stderr"; exit 1 }
}' || exit 1
for fn in burn_left burn_right; do
    pprof -top -sample_index=samples "$f" | grep -q " $fn\$" || fail "$fn not in the profile"
done
exit 0
