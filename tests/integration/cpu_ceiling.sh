#!/usr/bin/env bash
# cpu.max is a ceiling: no CPU profile starts while CPU is at or above it, and
# a running one stops early when CPU crosses it.
. "$(dirname "$0")/lib.sh"
[ "$(getconf _NPROCESSORS_ONLN)" -ge 2 ] || skip "needs 2 CPUs: one busy thread must be below the ceiling"

# 1. One busy thread is ~50% of two CPUs: abs 20 trips, but cpu.max 40 forbids starting.
write_config "$WORK/c.json" '{ "interval_ms": 100, "dump_dir": "@DUMPS@",
  "cpu": { "abs": 20, "window": 0, "cooldown_s": 0, "profile_seconds": 1, "max": 40 } }'
under_shim "$WORK/c.json" "$WORKLOADS/spike" 0 1500 1 0 >/dev/null 2>&1 || fail "workload failed"
[ "$(count_dumps cpu)" -eq 0 ] || fail "a CPU profile started above cpu.max"

# 2. One thread (~50%) trips abs 30 under cpu.max 80; 1 s later a second thread
#    takes CPU to ~100% and the 4-s window must stop early.
rm -rf "$DUMPS"
write_config "$WORK/c.json" '{ "interval_ms": 100, "dump_dir": "@DUMPS@",
  "cpu": { "abs": 30, "window": 0, "cooldown_s": 600, "profile_seconds": 4, "max": 80 } }'
under_shim "$WORK/c.json" "$WORKLOADS/two_threads" 4 1 >/dev/null || fail "workload failed"
[ "$(count_dumps cpu)" -eq 1 ] || fail "want 1 profile, got $(count_dumps cpu)"
line=$(head -1 "$DUMPS/events.jsonl")
printf '%s' "$line" | grep -q '"note":"stopped early: CPU reached cpu.max"' || fail "no early-stop note: $line"
duration=$(json_field "$line" duration_s)
note "window stopped after ${duration}s of 4"
awk -v d="$duration" 'BEGIN { exit !(d < 3) }' || fail "window ran ${duration}s despite the ceiling"
exit 0
