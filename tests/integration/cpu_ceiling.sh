#!/usr/bin/env bash
# cpu.max is a ceiling: no CPU profile starts while CPU is at or above it, and
# a running one stops early when CPU crosses it.
#
# The levels must stay on their side of the thresholds when another test
# suite shares the machine, which can take most of a busy thread's CPU (one
# busy thread, "~50% of two CPUs", measured 20-40% there and tripped the rule
# under a ceiling of 40). So the workload (cpu_levels) has two levels far
# apart whatever the load: light, one thread taking 0.1 CPU in 1-ms bites,
# which it gets even on a busy machine (it needs little and sleeps); and
# heavy, eight busy threads. The thresholds, in CPUs (the rule's percent is
# of the usable CPUs): abs at 0.04 (light trips it), cpu.max at 0.2 (light is
# under it, heavy over it unless 70 other threads compete: four busy threads,
# 100-ms ticks and a 0.3 ceiling saw one tick at 0.21 CPU beside a fork storm).
# Ticks are 200 ms apart, so a short stall does not fill a whole tick.
. "$(dirname "$0")/lib.sh"
abs=$(cpu_percent 0.04)
max=$(cpu_percent 0.2)

# 1. Heavy from the start: abs trips on every tick, but cpu.max forbids starting.
#    Without the flight recorder nothing is written; with it, each trip gets
#    the recorder's profile of the time before it instead, and no window.
write_config "$WORK/c.json" '{ "interval_ms": 200, "dump_dir": "@DUMPS@", "recorder": { "enable": false },
  "cpu": { "min": 0, "abs": '"$abs"', "window": 0, "cooldown_s": 0, "profile_seconds": 1, "max": '"$max"' } }'
under_shim "$WORK/c.json" "$WORKLOADS/cpu_levels" 0 1500 8 >/dev/null 2>&1 || fail "workload failed"
[ "$(count_dumps cpu)" -eq 0 ] || { cat "$DUMPS/events.jsonl" >&2; fail "a CPU profile started above cpu.max"; }
rm -rf "$DUMPS"
write_config "$WORK/c.json" '{ "interval_ms": 200, "dump_dir": "@DUMPS@",
  "cpu": { "min": 0, "abs": '"$abs"', "window": 0, "cooldown_s": 60, "profile_seconds": 1, "max": '"$max"' } }'
under_shim "$WORK/c.json" "$WORKLOADS/cpu_levels" 0 1500 8 >/dev/null 2>&1 || fail "workload failed"
[ "$(count_dumps cpu)" -eq 1 ] || { cat "$DUMPS/events.jsonl" >&2; fail "want the recorder's profile of the trip, got $(count_dumps cpu) CPU dumps"; }
line=$(grep '"kind":"cpu"' "$DUMPS/events.jsonl")
printf '%s' "$line" | grep -q '"timer":"recorder"' || fail "a CPU window ran above cpu.max: $line"
printf '%s' "$line" | grep -q 'before the trigger only: no CPU window: CPU is at or above cpu.max' \
    || fail "the event does not say why there is no window: $line"
samples=$(json_field "$line" samples)
[ "$samples" -gt 0 ] || fail "the recorder's profile is empty: $line"

# 2. Light for 2.5 s (a dozen ticks to trip in, should some stall) trips abs
#    under cpu.max; then heavy takes CPU over the ceiling and the 8-s window
#    must stop early, a tick or two after heavy began.
rm -rf "$DUMPS"
write_config "$WORK/c.json" '{ "interval_ms": 200, "dump_dir": "@DUMPS@",
  "cpu": { "min": 0, "abs": '"$abs"', "window": 0, "cooldown_s": 600, "profile_seconds": 8, "max": '"$max"' } }'
under_shim "$WORK/c.json" "$WORKLOADS/cpu_levels" 2500 3000 8 >/dev/null || fail "workload failed"
[ "$(count_dumps cpu)" -eq 1 ] || { cat "$DUMPS/events.jsonl" >&2 2>/dev/null; fail "want 1 profile, got $(count_dumps cpu)"; }
line=$(head -1 "$DUMPS/events.jsonl")
printf '%s' "$line" | grep -q '"note":"stopped early: CPU reached cpu.max"' || fail "no early-stop note: $line"
value=$(json_field "$line" value)
awk -v v="$value" -v m="$max" 'BEGIN { exit !(v < m) }' || fail "the profile started at $value%, at or above cpu.max $max%"
duration=$(json_field "$line" duration_s)
note "abs $abs%, cpu.max $max%: started at $value%, window stopped after ${duration}s of 8 (heavy from 2.5 s)"
awk -v d="$duration" 'BEGIN { exit !(d < 5) }' || fail "window ran ${duration}s despite the ceiling"
exit 0
