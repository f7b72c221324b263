#!/usr/bin/env bash
# unshare(CLONE_NEWUSER) needs a single-threaded caller: under the shim it still
# succeeds (the monitor steps aside and comes back), for a program calling it
# and for unshare(1); and the monitor is back afterwards to profile the work.
. "$(dirname "$0")/lib.sh"
skip_under_tsan "libtsan runs a background thread of its own, and unshare(CLONE_NEWUSER) refuses a multi-threaded caller"
require_go
"$WORKLOADS/userns" 10 >/dev/null 2>&1 || skip "this machine does not allow unshare(CLONE_NEWUSER) even without the shim"
write_config "$WORK/c.json" '{ "interval_ms": 100, "dump_dir": "@DUMPS@",
  "cpu": { "min": 0, "abs": '"$BUSY_ABS"', "window": 0, "cooldown_s": 600, "profile_seconds": 1 } }'
out=$(under_shim "$WORK/c.json" "$WORKLOADS/userns" 1800) || fail "unshare failed under the shim: $out"
[ "$out" = "unshare: ok" ] || fail "unexpected output: $out"
[ "$(count_dumps cpu)" -eq 1 ] || fail "the monitor did not come back after unshare: $(count_dumps cpu) dumps"
top=$(top_function "$DUMPS/$(dumps_of_kind cpu)")
[ "$top" = burn_in_new_namespace ] || fail "top function is '$top'"
if command -v unshare >/dev/null; then
    under_shim "$WORK/c.json" unshare -U true || fail "unshare -U true exited $? under the shim"
fi
exit 0
