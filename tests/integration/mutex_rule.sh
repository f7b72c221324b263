#!/usr/bin/env bash
# A lock convoy trips the mutex rule by itself: four threads queue for a
# mutex held 5 ms at a time (about 400% of the tick spent waiting, summed
# over threads), no request, no other rule. The event names the metric and
# its value; the rule writes a mutex profile blaming the queue, and opens a
# CPU window.
. "$(dirname "$0")/lib.sh"
require_go
write_config "$WORK/c.json" '{ "interval_ms": 200, "dump_dir": "@DUMPS@",
  "cpu": { "abs": 1000, "window": 0, "profile_seconds": 1 }, "threads": { "enable": false },
  "mutex": { "rule": { "abs": 150, "window": 0, "sustain": 2 } } }'
out=$(under_shim "$WORK/c.json" "$WORKLOADS/mutex_queue" 2.5 5000 -) || fail "workload exited $?"
[ "$(printf '%s\n' "$out" | tail -1)" = done ] || fail "workload output: $out"
[ "$(count_dumps mutex)" -eq 1 ] || { cat "$DUMPS/events.jsonl" >&2; fail "want 1 mutex dump, got $(count_dumps mutex)"; }
file="$DUMPS/$(dumps_of_kind mutex)"
event=$(grep -F "\"file\":\"$file\"" "$DUMPS/events.jsonl")
[ "$(json_field "$event" metric)" = mutex ] && [ "$(json_field "$event" reason)" = abs ] || fail "event: $event"
awk -v v="$(json_field "$event" value)" 'BEGIN { exit !(v >= 150) }' || fail "the event's value is below abs: $event"
[ "$(top_function "$file" delay)" = queue_for_the_lock ] || { pprof -top -sample_index=delay "$file" >&2; fail "the queue is not the top of delay"; }
cpu_event=$(grep '"kind":"cpu"' "$DUMPS/events.jsonl" | head -1)
[ "$(json_field "$cpu_event" metric)" = mutex ] || fail "no CPU window for the mutex trip: $(cat "$DUMPS/events.jsonl")"
exit 0
