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
out=$(timeout 120 env LD_PRELOAD="$LIBCONAN" CONAN_CONFIG="$WORK/c.json" "$WORKLOADS/threads_and_namespaces" fork 2000 2>&1)
rc=$?
[ $rc -eq 0 ] && [ "$out" = "stuck children 0" ] || fail "fork: exit $rc: $out"
exit 0
