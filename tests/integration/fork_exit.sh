#!/usr/bin/env bash
# Forked children run their exit() path (our destructor included) promptly and
# exit with their own status under the shim. A regression guard for the
# child-side teardown; it does not by itself prove the atfork handler (glibc
# already marks the parent's other threads finished in the child).
. "$(dirname "$0")/lib.sh"
skip_under_tsan "$TSAN_FORK_LIMIT"
write_config "$WORK/c.json" '{ "interval_ms": 100, "dump_dir": "@DUMPS@" }'
base=$("$WORKLOADS/fork_children" 20) || fail "fork_children failed: $base"
with=$(under_shim "$WORK/c.json" "$WORKLOADS/fork_children" 20) || fail "fork_children under the shim failed: $with"
note "slowest fork-to-reaped: ${with} ms with the shim, ${base} ms without"
awk -v w="$with" 'BEGIN { exit !(w < 100) }' || fail "a child took ${with} ms to exit"
exit 0
