#!/usr/bin/env bash
# Forked children that exit() are not delayed by the shim (the child has no
# monitor thread and must not wait for one), and exit with their own status.
. "$(dirname "$0")/lib.sh"
write_config "$WORK/c.json" '{ "interval_ms": 100, "dump_dir": "@DUMPS@" }'
base=$("$WORKLOADS/fork_children" 20) || fail "fork_children failed: $base"
with=$(under_shim "$WORK/c.json" "$WORKLOADS/fork_children" 20) || fail "fork_children under the shim failed: $with"
note "slowest fork-to-reaped: ${with} ms with the shim, ${base} ms without"
awk -v w="$with" 'BEGIN { exit !(w < 100) }' || fail "a child took ${with} ms to exit"
exit 0
