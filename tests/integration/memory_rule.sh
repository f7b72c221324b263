#!/usr/bin/env bash
# The memory rule against a real cgroup v1 memory limit: the workload runs in
# a fresh memory cgroup limited to 256 MiB and keeps 160 MiB resident. RSS is
# measured against the cgroup's limit (not the machine's RAM), crosses the
# rule's abs 50%, and the trip writes a heap profile (metric "memory") whose
# top in-use function is the leaking one. Needs root and a writable v1 memory
# hierarchy; cgroup v2 limits are covered by unit/cgroup on fixture trees.
. "$(dirname "$0")/lib.sh"
skip_if_sanitized "the sanitizer's shadow memory and quarantine count against the cgroup's memory limit, which" \
    "the workload then exceeds (seen under asan: the cgroup's OOM killer at 259 MB anon-rss in the 256 MiB limit)"
require_go
[ "$(id -u)" -eq 0 ] || skip "needs root to create a memory cgroup"
V1=/sys/fs/cgroup/memory
[ -w "$V1" ] && [ -f "$V1/cgroup.procs" ] || skip "no writable cgroup v1 memory hierarchy at $V1"
CG="$V1/conan-memory-rule-$$"
mkdir "$CG" || skip "cannot create $CG"
at_exit 'rmdir "$CG" 2>/dev/null'
echo $((256 << 20)) > "$CG/memory.limit_in_bytes" || fail "cannot set the limit"
write_config "$WORK/c.json" '{ "interval_ms": 100, "dump_dir": "@DUMPS@",
  "cpu": { "enable": false }, "heap": { "enable": false, "sample_bytes": 65536 },
  "memory": { "min": 0, "abs": 50, "window": 0 } }'
LIBCONAN="$LIBCONAN" CONF="$WORK/c.json" W="$WORKLOADS/heap_leak" D="$DUMPS" sh -c \
    'echo $$ > "$1/cgroup.procs" && exec env LD_PRELOAD="$LIBCONAN" CONAN_CONFIG="$CONF" "$W" 160 "$D" 20' sh "$CG" \
    >/dev/null || fail "workload failed"
event=$(grep '"kind":"heap"' "$DUMPS/events.jsonl" 2>/dev/null | head -1)
[ -n "$event" ] || fail "no heap profile event"
[ "$(json_field "$event" metric)" = memory ] && [ "$(json_field "$event" reason)" = abs ] \
    || fail "the heap profile was not written by the memory rule: $event"
value=$(json_field "$event" value)
note "memory rule tripped at $value% of the cgroup limit"
awk -v v="$value" 'BEGIN { exit !(v >= 50 && v <= 100) }' || fail "value $value is not a percent of 256 MiB"
file="$DUMPS/$(dumps_of_kind heap | head -1)"
pprof -raw "$file" | grep -q "of 256.0 MiB (cgroup)" || fail "limit not taken from the cgroup: $(pprof -raw "$file" | grep resident)"
top=$(top_function "$file" inuse_space)
[ "$top" = leak_into_cache ] || fail "top of inuse_space is '$top', want leak_into_cache"
exit 0
