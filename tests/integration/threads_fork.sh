#!/usr/bin/env bash
# fork while threads are being created and ended and every allocation is
# sampled: each child must run and exit normally. (A child used to deadlock:
# the thread registry's atfork handler freed records while the heap table's
# lock, taken by its own prepare handler, was still held.)
. "$(dirname "$0")/lib.sh"
skip_if_sanitized "the sanitizers' runtimes cannot fork a process whose threads allocate: GCC 12's libasan" \
    "does not hold its allocator's locks across fork (a child's first allocation can wait forever for a" \
    "lock another thread held; the workload hangs the same way under libasan alone, without libconan)," \
    "and libtsan refuses new threads in the child of a multi-threaded fork"
write_config "$WORK/c.json" '{ "dump_dir": "@DUMPS@", "heap": { "sample_bytes": 1 } }'
out=$(timeout 60 env LD_PRELOAD="$LIBCONAN" CONAN_CONFIG="$WORK/c.json" "$WORKLOADS/threads_fork" 100) \
    || fail "workload failed or hung (status $?)"
[ "$out" = "children ok 100 of 100" ] || fail "unexpected output: $out"
exit 0
