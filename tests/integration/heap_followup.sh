#!/usr/bin/env bash
# heap.followup_s: a heap-rule trip writes a heap profile, and a second one
# followup_s later (note "follow-up"), with the same trigger. The program grows
# by another 32 MiB in grow_after_first_profile in between, and
# `go tool pprof -diff_base FIRST SECOND` shows exactly that growth on top.
# The shim's own allocations while building the first profile (symbol tables,
# protobuf-c, zlib, cJSON) must not appear in the second: they are never
# sampled.
. "$(dirname "$0")/lib.sh"
require_go
write_config "$WORK/c.json" '{ "interval_ms": 100, "dump_dir": "@DUMPS@",
  "cpu": { "enable": false }, "memory": { "enable": false },
  "heap": { "min": 0, "abs": 24, "window": 0, "cooldown_s": 600, "sample_bytes": 65536, "followup_s": 1 } }'
under_shim "$WORK/c.json" "$WORKLOADS/heap_leak" 32 "$DUMPS" 20 2 >/dev/null || fail "workload failed"
n=$(count_dumps heap)
[ "$n" -eq 2 ] || { cat "$DUMPS/events.jsonl" >&2; fail "want 2 heap profiles (trip + follow-up), got $n"; }
second_event=$(grep '"kind":"heap"' "$DUMPS/events.jsonl" | sed -n 2p)
[ "$(json_field "$second_event" note)" = "follow-up: heap.followup_s after the trip" ] \
    && [ "$(json_field "$second_event" metric)" = heap ] || fail "second profile is not the follow-up: $second_event"
first="$DUMPS/$(dumps_of_kind heap | sed -n 1p)"
second="$DUMPS/$(dumps_of_kind heap | sed -n 2p)"
top=$(pprof -top -sample_index=inuse_space -diff_base "$first" "$second" | awk 'found && NF >= 6 { print $NF; exit } /flat%/ { found = 1 }')
[ "$top" = grow_after_first_profile ] || { pprof -top -sample_index=inuse_space -diff_base "$first" "$second" >&2; fail "top of the diff is '$top', want grow_after_first_profile"; }
own=$(pprof -traces "$second" | grep -E 'conan_|protobuf_c|deflate|cJSON|symbols_open' | sort -u | head -5)
[ -z "$own" ] || fail "the shim's own allocations were sampled: $own"
exit 0
