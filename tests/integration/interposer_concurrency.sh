#!/usr/bin/env bash
# The interposed calls under concurrency: 16 threads calling setns at once all
# succeed and leave exactly one monitor running; children forked while another
# thread is inside sigaction(SIGPROF) never hang in their own signal() call.
. "$(dirname "$0")/lib.sh"
write_config "$WORK/c.json" '{ "interval_ms": 100, "dump_dir": "@DUMPS@" }'
plain=$("$WORKLOADS/threads_and_namespaces" setns 2 2 2>&1)
[ "$plain" = "failed 0, monitors 0" ] || skip "setns into our own network namespace is refused here even without the shim ($plain)"
out=$(timeout 60 env LD_PRELOAD="$LIBCONAN" CONAN_CONFIG="$WORK/c.json" "$WORKLOADS/threads_and_namespaces" setns 16 100 2>&1)
rc=$?
[ $rc -eq 0 ] || fail "setns: exit $rc: $out"
[ "$out" = "failed 0, monitors 1" ] || fail "setns: $out"
[ "$SANITIZED" != tsan ] || { note "the fork half is not run under tsan: $TSAN_FORK_LIMIT"; exit 0; }
[ "$SANITIZED" != asan ] || { note "the fork half is not run under asan: $ASAN_FORK_LIMIT"; exit 0; }
# Up to 2000 forks, for at most 60 s: a fork under the shim took 77 ms beside
# another test suite (32 ms without the shim), so 2000 of them outlasted the
# 120-s timeout that catches a parent that hangs. At least 200 must have run
# for the test to mean something (a lock copied held shows in a few dozen:
# the other thread is inside sigaction most of the time).
out=$(timeout 120 env LD_PRELOAD="$LIBCONAN" CONAN_CONFIG="$WORK/c.json" "$WORKLOADS/threads_and_namespaces" fork 2000 60 2>&1)
rc=$?
[ $rc -eq 0 ] || fail "fork: exit $rc (124: the parent hung): $out"
forked=$(printf '%s\n' "$out" | sed -n 's/^stuck children 0 of \([0-9]*\)$/\1/p')
[ -n "$forked" ] || fail "fork: $out"
note "$forked forks, none stuck"
[ "$forked" -ge 200 ] || fail "fork: only $forked forks in 60 s, too few to test anything"
exit 0
