#!/usr/bin/env bash
# During a CPU window, threads born through pthread_create are armed as they
# start (not at the next 100-ms rescan) and give their timer back as they end:
# ten threads living 40 ms each, one after another, are all sampled, although
# cpu.thread_timer_limit (4) would be exhausted after three of them if ended
# threads kept their timers.
. "$(dirname "$0")/lib.sh"
require_go
write_config "$WORK/c.json" '{ "interval_ms": 100, "dump_dir": "@DUMPS@",
  "cpu": { "min": 0, "abs": '"$BUSY_ABS"', "window": 0, "cooldown_s": 600, "profile_seconds": 3, "thread_timer_limit": 4 },
  "heap": { "sample_bytes": 0 }, "threads": { "enable": false } }'
under_shim "$WORK/c.json" "$WORKLOADS/short_threads" 3.5 1.2 10 >/dev/null || fail "workload failed"
f="$DUMPS/$(dumps_of_kind cpu | head -1)"
[ -f "$f" ] || fail "no CPU profile"
event=$(grep '"kind":"cpu"' "$DUMPS/events.jsonl" | head -1)
[ "$(json_field "$event" timer)" = thread ] || fail "per-thread timers were not used: $event"
pprof -tags -sample_index=samples "$f" > "$WORK/tags" || fail "pprof -tags failed"
named=$(grep -c 'short-[0-9]' "$WORK/tags")
samples=$(awk '/short-[0-9]/ { n += $1 } END { print n + 0 }' "$WORK/tags")
note "$named of 10 short threads sampled, $samples samples (40 ms each at 100 Hz: ~40 expected)"
[ "$named" -ge 9 ] || { cat "$WORK/tags" >&2; fail "only $named of the 10 short-lived threads were sampled"; }
[ "$samples" -ge 20 ] || fail "only $samples samples from the short-lived threads"
exit 0
