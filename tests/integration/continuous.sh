#!/usr/bin/env bash
# Continuous mode: with the CPU rule unable to trip, one CPU (and its wall
# profile), one heap, one threadcreate, one threads and one mutex profile per
# continuous.every_s period, each with reason "continuous".
. "$(dirname "$0")/lib.sh"
write_config "$WORK/c.json" '{ "mode": "continuous", "interval_ms": 100, "dump_dir": "@DUMPS@",
  "continuous": { "every_s": 2 },
  "cpu": { "abs": 1000, "window": 0, "profile_seconds": 1 } }'
# 7.5 s of CPU: periods start at ~2, ~4 and ~6 s, each window lasting 1 s.
under_shim "$WORK/c.json" "$WORKLOADS/spike" 0 7500 1 0 >/dev/null || fail "workload failed"
n=$(count_dumps cpu)
[ "$n" -eq 3 ] || { cat "$DUMPS/events.jsonl" >&2; fail "want 3 continuous profiles in 7.5 s at every_s 2, got $n"; }
n=$(count_dumps heap)
[ "$n" -eq 3 ] || { cat "$DUMPS/events.jsonl" >&2; fail "want 3 continuous heap profiles in 7.5 s, got $n"; }
for kind in wall threadcreate threads mutex; do
    n=$(count_dumps $kind)
    [ "$n" -eq 3 ] || { cat "$DUMPS/events.jsonl" >&2; fail "want 3 continuous $kind profiles in 7.5 s, got $n"; }
done
[ "$(grep -c '"reason":"continuous"' "$DUMPS/events.jsonl")" -eq 18 ] || fail "event reasons are not all continuous"
# The periods are every_s apart: compare the CPU windows' start times, each
# profile's time_nanos (read by tests/bench/profile_times.py). The events'
# times, compared before, are when each file was written, and a loaded
# machine stretches the writes (0.03-0.3 s seen) and what comes before them.
for f in $(dumps_of_kind cpu); do
    python3 "$(dirname "$0")/../bench/profile_times.py" "$DUMPS/$f" || fail "cannot read the times of $f"
done | sort -n | awk 'NR > 1 { gap = ($1 - prev) / 1e9; if (gap < 1.8 || gap > 2.4) { print "FAIL: gap " gap > "/dev/stderr"; bad = 1 } } { prev = $1 } END { exit bad }' \
    || fail "profiles are not every_s apart"
exit 0
