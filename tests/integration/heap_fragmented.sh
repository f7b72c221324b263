#!/usr/bin/env bash
# The heap rule must not stall the program: glibc's mallinfo2() walks every
# free chunk under the arena lock, ~100 ms on a heap with half a million free
# chunks. The shim notices the second slow call in a row (one alone can be the
# machine's), says so once on stderr, and uses its own sampled estimate from
# then on: over 3 s of 100-ms ticks the program's malloc+free stalls at most
# twice (without the guard: every tick).
# A stall is time a call spent blocked, off the CPU and not waiting for one
# (heap_fragmented subtracts its CPU time and schedstat's run_delay): on a
# loaded machine calls also take 20+ ms of wall time when preempted.
. "$(dirname "$0")/lib.sh"
write_config "$WORK/c.json" '{ "interval_ms": 100, "dump_dir": "@DUMPS@", "cpu": { "enable": false },
  "heap": { "abs": 1048576 } }'
out=$(under_shim "$WORK/c.json" "$WORKLOADS/heap_fragmented" 1000000 3 2>"$WORK/err") || fail "workload failed"
note "$out"
skip_if_sanitized "the allocator behind the shim is the sanitizer's, whose own pauses (37 ms seen) are not ours to bound"
slow=$(printf '%s\n' "$out" | sed -n 's/.*, \([0-9]*\) calls blocked over 20 ms/\1/p')
[ "${slow:-99}" -le 2 ] || fail "the program was blocked $slow times over 20 ms: $out"
if grep -q 'mallinfo2() took' "$WORK/err"; then
    [ "$(grep -c . "$WORK/err")" -eq 1 ] || { cat "$WORK/err" >&2; fail "more than one line on stderr"; }
    note "$(cat "$WORK/err")"
fi
exit 0
