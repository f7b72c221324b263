#!/usr/bin/env bash
# fork while the monitor builds heap profiles: the parent's live heap has
# thousands of distinct stacks, so each continuous heap profile takes tens of
# milliseconds to build, and the parent forks 300 children one after another,
# each allocating and freeing under sampling before it exits. No child hangs
# or fails, and the test checks that forks really landed inside heap dumps.
. "$(dirname "$0")/lib.sh"
skip_forking_children_if_sanitized
require_go
write_config "$WORK/c.json" '{ "interval_ms": 100, "dump_dir": "@DUMPS@", "mode": "continuous",
  "continuous": { "every_s": 1 }, "cpu": { "enable": false }, "heap": { "sample_bytes": 64 } }'
"$WORKLOADS/forks" heap 300 "$WORK/plain.log" >"$WORK/plain.out" 2>&1 || fail "without the shim: $(cat "$WORK/plain.out")"
timeout 120 env LD_PRELOAD="$LIBCONAN" CONAN_CONFIG="$WORK/c.json" "$WORKLOADS/forks" heap 300 "$WORK/shim.log" \
    >"$WORK/shim.out" 2>"$WORK/shim.err" || fail "under the shim (status $?): $(cat "$WORK/shim.out" "$WORK/shim.err")"
cmp -s "$WORK/plain.out" "$WORK/shim.out" || fail "stdout changed: $(cat "$WORK/shim.out")"
landed=$(forks_during heap "$WORK/shim.log")
note "$landed of 300 forks happened while the parent built or wrote a heap profile"
[ "$landed" -ge 3 ] || fail "only $landed forks landed in a heap dump: the test did not exercise the case"
f=$(dumps_of_kind heap | head -1)
pprof -top -sample_index=inuse_space "$DUMPS/$f" | grep -q "step_zero" || fail "the parent's heap profile lacks its stacks"
exit 0
