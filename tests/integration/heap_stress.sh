#!/usr/bin/env bash
# Stress: 8 threads allocate (malloc, calloc, realloc) and free each other's
# blocks with a 64-byte sample interval, so nearly every allocation is sampled.
# No crash; afterwards, with everything freed, the table holds nothing of the
# workload's (sampled = freed + live, no block in use in stress_worker, no free
# missed), and the unbiased alloc_objects of stress_worker is within 3% of the
# exact number of allocations the workload counted.
. "$(dirname "$0")/lib.sh"
require_go
write_config "$WORK/c.json" '{ "dump_dir": "@DUMPS@", "cpu": { "enable": false }, "heap": { "sample_bytes": 64 } }'
out=$(under_shim "$WORK/c.json" "$WORKLOADS/heap_stress" 8 40000 "$DUMPS") || fail "workload failed (status $?)"
made=$(printf '%s\n' "$out" | awk '/^allocations/ { print $2 }')
file="$DUMPS/$(dumps_of_kind heap | head -1)"
[ -f "$file" ] || fail "no heap profile"
line=$(pprof -raw "$file" | grep 'heap sampling:')
note "$line"
read -r live sampled freed dropped unseen < <(printf '%s\n' "$line" | sed -n \
    's/.*; \([0-9]*\) sampled blocks live.*; \([0-9]*\) sampled, \([0-9]*\) freed since start, \([0-9]*\) not recorded, \([0-9]*\) freed unseen.*/\1 \2 \3 \4 \5/p')
[ -n "${live:-}" ] || fail "cannot read the sampling comment: $line"
[ "$sampled" -eq $((freed + live)) ] || fail "sampled $sampled != freed $freed + live $live"
[ "$dropped" -eq 0 ] && [ "$unseen" -eq 0 ] || fail "samples dropped ($dropped) or frees missed ($unseen)"
[ "$sampled" -ge $((made / 2)) ] || fail "only $sampled of $made allocations sampled at 64 bytes"
inuse=$(pprof -top -sample_index=inuse_objects "$file" | awk '$NF == "stress_worker" { print $1 }')
[ -z "$inuse" ] || [ "$inuse" = 0 ] || fail "stress_worker still has $inuse objects in use after freeing all"
estimate=$(pprof -top -sample_index=alloc_objects "$file" | awk '$NF == "stress_worker" { print $1 }')
note "allocations made $made, alloc_objects estimate $estimate"
awk -v e="$estimate" -v t="$made" 'BEGIN { r = e / t; exit !(r >= 0.97 && r <= 1.03) }' \
    || fail "alloc_objects estimate $estimate is not within 3% of $made"
exit 0
