#!/usr/bin/env bash
# The program touches SIGPROF while a window holds it: resetting every signal
# to SIG_DFL does not let our next tick kill it, and installing its own handler
# and ITIMER_PROF gives it its own ticks (not ours as well), kept after the
# window ends.
. "$(dirname "$0")/lib.sh"
write_config "$WORK/c.json" '{ "interval_ms": 100, "dump_dir": "@DUMPS@",
  "cpu": { "min": 0, "abs": '"$BUSY_ABS"', "window": 0, "cooldown_s": 600, "profile_seconds": 2 } }'

out=$(under_shim "$WORK/c.json" "$WORKLOADS/sigprof_midwindow" reset 2500 2>&1); rc=$?
[ $rc -eq 0 ] && [ "$out" = survived ] || fail "reset mid-window: exit $rc, output: $out"
[ "$(count_dumps cpu)" -eq 1 ] || fail "reset mid-window: want the window's profile, got $(count_dumps cpu)"

rm -rf "$DUMPS"
out=$(under_shim "$WORK/c.json" "$WORKLOADS/sigprof_midwindow" own 4000 2>&1) || fail "own handler: exit $?: $out"
note "$out"
rate=$(printf '%s' "$out" | sed -n 's/^ticks per cpu-second \([0-9]*\),.*/\1/p')
[ -n "$rate" ] || fail "unexpected output: $out"
[ "$rate" -ge 70 ] && [ "$rate" -le 130 ] || fail "the program's handler got $rate ticks per CPU-second, want ~100"
printf '%s' "$out" | grep -q "handler kept, timer kept" || fail "the program lost its SIGPROF: $out"
exit 0
