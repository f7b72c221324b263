#!/usr/bin/env bash
# Libraries coming and going during CPU windows and heap sampling: one library
# loaded after start and kept, another loaded and unloaded ~200 times a second
# by a second thread. The program runs unchanged; the kept library appears in
# the CPU profile's mappings under its name with its build ID, its burn
# function is named, and the heap profile shows its allocation site.
. "$(dirname "$0")/lib.sh"
require_go
# 1000 Hz: beside a CPU-hungry neighbour (another suite's fork_storm) the main
# thread, which calls the library's function, got a few ms of CPU per window
# under ASan, and two windows at 100 Hz held none of its samples.
libdir=$WORKLOADS   # the two libraries are built beside the workloads
write_config "$WORK/c.json" '{ "interval_ms": 100, "dump_dir": "@DUMPS@", "mode": "continuous",
  "continuous": { "every_s": 1 }, "cpu": { "profile_seconds": 1, "hz": 1000 }, "heap": { "sample_bytes": 4096 } }'
"$WORKLOADS/dlopen_churn" "$libdir" 3500 >"$WORK/plain.out" 2>/dev/null || fail "without the shim"
under_shim "$WORK/c.json" "$WORKLOADS/dlopen_churn" "$libdir" 3500 "$DUMPS" >"$WORK/shim.out" 2>"$WORK/shim.err" \
    || fail "under the shim (status $?): $(cat "$WORK/shim.err")"
cmp -s "$WORK/plain.out" "$WORK/shim.out" || fail "stdout changed: $(cat "$WORK/shim.out")"
! grep -q '^libconan: ' "$WORK/shim.err" || fail "stderr: $(cat "$WORK/shim.err")"
note "$(tail -1 "$WORK/shim.err")"

build_id=$(readelf -n "$libdir/libdl_resident.so" | awk '/Build ID/ { print $3 }')
[ -n "$build_id" ] || fail "libdl_resident.so has no build ID"
found=0
for f in $(dumps_of_kind cpu); do
    pprof -top -nodefraction=0 "$DUMPS/$f" | grep -q " dl_resident_burn$" || continue
    pprof -raw "$DUMPS/$f" | sed -n '/^Mappings/,$p' | grep -q "/libdl_resident.so $build_id" \
        || fail "$f: libdl_resident.so not in the mappings with build ID $build_id"
    found=$((found + 1))
done
note "$found of $(count_dumps cpu) CPU profiles show the library loaded after start"
[ "$found" -ge 1 ] || fail "no CPU profile names dl_resident_burn"
heap=$(dumps_of_kind heap | tail -1)
[ -n "$heap" ] || fail "no heap profile"
pprof -top -sample_index=inuse_space "$DUMPS/$heap" | grep -q " dl_resident_alloc$" \
    || fail "the heap profile lacks dl_resident_alloc: $(pprof -top -sample_index=inuse_space "$DUMPS/$heap" | tail -8)"
exit 0
