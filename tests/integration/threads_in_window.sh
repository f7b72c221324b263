#!/usr/bin/env bash
# During a CPU window, threads born through pthread_create are armed as they
# start (not at the next 100-ms rescan) and give their timer back as they end:
# ten threads living 40 ms each, one after another, are all sampled, although
# cpu.thread_timer_limit (4) would be exhausted after three of them if ended
# threads kept their timers.
. "$(dirname "$0")/lib.sh"
require_go
# The threads take 40 ms of CPU each, so on a loaded machine ten of them take
# seconds of wall time (beside another suite the 3-s window closed after 6):
# the window is 6 s (the workload runs 9 s, so a rule that trips late under
# load still sees the window close on time, not at the program's exit with
# its 200-ms budget), and the threads judged are those whose whole life the
# profile's window covered (short_threads LOG, against the profile's
# time_nanos and duration_nanos); there must be at least five, more than the
# timer limit leaves room for if ended threads kept their timers.
write_config "$WORK/c.json" '{ "interval_ms": 100, "dump_dir": "@DUMPS@",
  "cpu": { "min": 0, "abs": '"$BUSY_ABS"', "window": 0, "cooldown_s": 600, "profile_seconds": 6, "thread_timer_limit": 4 },
  "heap": { "sample_bytes": 0 }, "threads": { "enable": false } }'
under_shim "$WORK/c.json" "$WORKLOADS/short_threads" 9 1.2 10 "$WORK/lived" >/dev/null || fail "workload failed"
f="$DUMPS/$(dumps_of_kind cpu | head -1)"
[ -f "$f" ] || fail "no CPU profile"
event=$(grep '"kind":"cpu"' "$DUMPS/events.jsonl" | head -1)
[ "$(json_field "$event" timer)" = thread ] || fail "per-thread timers were not used: $event"
pprof -tags -sample_index=samples "$f" > "$WORK/tags" || fail "pprof -tags failed"
read -r start duration < <(python3 "$(dirname "$0")/../bench/profile_times.py" "$f") || fail "cannot read the times of $f"
awk -v s="$start" -v e="$((start + duration))" '$2 >= s && $3 <= e { print $1 }' "$WORK/lived" >"$WORK/inside"
inside=$(grep -c . "$WORK/inside")
named=$(grep -owFf "$WORK/inside" "$WORK/tags" | sort -u | grep -c .)
samples=$(grep -wFf "$WORK/inside" "$WORK/tags" | awk '/short-[0-9]/ { n += $1 } END { print n + 0 }')
note "$inside of 10 short threads lived inside the window: $named of them sampled, $samples samples (40 ms each at 100 Hz: ~4 a thread)"
[ "$inside" -ge 5 ] || { cat "$WORK/lived" >&2; fail "only $inside short threads lived inside the window: nothing to judge"; }
[ "$named" -ge $((inside - 1)) ] || { cat "$WORK/tags" >&2; fail "only $named of the $inside short-lived threads inside the window were sampled"; }
[ "$samples" -ge $((2 * inside)) ] || fail "only $samples samples from $inside short-lived threads"
exit 0
