#!/usr/bin/env bash
# C++ under the shim: new/delete, std::string, containers and exceptions on
# four threads, and operator new's contract (bad_alloc, nothrow, new_handler,
# over-aligned types). The program's output is the same as without the shim,
# and the heap profile names the allocating C++ code (demangled, no operator
# new on top): SessionCache::remember holds the in-use memory (32 MiB, estimate
# within 15%), parse_requests is among the allocation sites.
# Argument "jemalloc": the same with jemalloc (which has operators new and
# delete of its own) preloaded behind libconan.
# Under a sanitizer, its allocator and operators are behind libconan: no
# jemalloc, and no failing-new checks (the sanitizer's operator new aborts
# instead of throwing and ignores the new_handler, with or without libconan).
. "$(dirname "$0")/lib.sh"
require_go
allocator_behind "${1:-glibc}"
behind=$BEHIND
[ -n "$SANITIZED" ] && export HEAP_CPP_NO_FAILING_NEW=1
write_config "$WORK/c.json" '{ "dump_dir": "@DUMPS@", "cpu": { "enable": false }, "heap": { "sample_bytes": 65536 } }'
plain=$(LD_PRELOAD="$behind" "$WORKLOADS/heap_cpp" 32) || fail "workload failed without the shim"
shimmed=$(LD_PRELOAD="$LIBCONAN $behind" CONAN_CONFIG="$WORK/c.json" "$WORKLOADS/heap_cpp" 32 "$DUMPS") \
    || fail "workload failed under the shim"
[ "$plain" = "$shimmed" ] || fail "output differs under the shim: '$plain' vs '$shimmed'"
note "$shimmed"
file="$DUMPS/$(dumps_of_kind heap | head -1)"
[ -f "$file" ] || fail "no heap profile"
top=$(top_function "$file" inuse_space)
[ "$top" = "SessionCache::remember(unsigned long)" ] || { pprof -top -sample_index=inuse_space "$file" >&2; fail "top of inuse_space is '$top'"; }
estimate=$(pprof -top -sample_index=inuse_space -unit=B "$file" | awk '/SessionCache::remember/ { sub(/B$/, "", $1); print $1; exit }')
note "SessionCache::remember in use: $estimate bytes of $((32 << 20))"
awk -v e="$estimate" -v t=$((32 << 20)) 'BEGIN { r = e / t; exit !(r >= 0.85 && r <= 1.15) }' || fail "estimate $estimate not within 15% of 32 MiB"
pprof -top -sample_index=alloc_objects "$file" | grep -q 'parse_requests(int)' || fail "parse_requests is not among the allocation sites"
if pprof -top -sample_index=alloc_objects "$file" | grep -q 'operator new'; then fail "operator new frames were not trimmed"; fi
exit 0
