#!/usr/bin/env bash
# The threads rule: 50 threads appear; with abs 51 (the 50 workers and main)
# the rule trips (metric "threads") once all of them exist, however slowly a
# loaded machine creates them, and writes a threadcreate and a threads profile. With threads.max
# 20 the same trip writes the count and the threadcreate profile only: the
# stack snapshot is skipped, and the event says why.
. "$(dirname "$0")/lib.sh"
require_go
write_config "$WORK/c.json" '{ "interval_ms": 100, "dump_dir": "@DUMPS@", "cpu": { "enable": false },
  "heap": { "sample_bytes": 0 }, "threads": { "min": 0, "abs": 51, "window": 0 } }'
under_shim "$WORK/c.json" "$WORKLOADS/threads_burst" 50 "$DUMPS" rule >/dev/null || fail "workload failed"
event=$(grep '"kind":"threads"' "$DUMPS/events.jsonl" | head -1)
[ "$(json_field "$event" metric)" = threads ] && [ "$(json_field "$event" reason)" = abs ] \
    || fail "the threads profile was not written by the threads rule: $event"
value=$(json_field "$event" value)
[ "${value%.*}" -ge 50 ] || fail "rule value $value, want at least the 50 workers"
[ "$(count_dumps threadcreate)" -eq 1 ] && [ "$(count_dumps threads)" -eq 1 ] || fail "want one profile of each kind: $(ls "$DUMPS")"
[ "$(pprof -top -sample_index=threadcreate "$DUMPS/$(dumps_of_kind threadcreate)" | awk '$NF == "spawn_workers" { print $1 }')" = 50 ] \
    || fail "threadcreate does not attribute 50 threads to spawn_workers"

rm -rf "$DUMPS"
write_config "$WORK/c.json" '{ "interval_ms": 100, "dump_dir": "@DUMPS@", "cpu": { "enable": false },
  "heap": { "sample_bytes": 0 }, "threads": { "min": 0, "abs": 30, "window": 0, "max": 20 } }'
under_shim "$WORK/c.json" "$WORKLOADS/threads_burst" 50 "$DUMPS" rule >/dev/null || fail "workload failed (max)"
[ "$(count_dumps threadcreate)" -eq 1 ] || fail "no threadcreate profile above threads.max"
[ "$(count_dumps threads)" -eq 0 ] || fail "a stack snapshot was taken above threads.max"
note "$(json_field "$(grep '"kind":"threads"' "$DUMPS/events.jsonl" | head -1)" note)"
grep '"kind":"threads"' "$DUMPS/events.jsonl" | grep -q 'above threads.max' || fail "the event does not say why the snapshot was skipped"
exit 0
