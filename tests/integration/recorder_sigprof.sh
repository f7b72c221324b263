#!/usr/bin/env bash
# The flight recorder holds SIGPROF from the start, and a program that uses
# SIGPROF itself loses nothing: one that installs its own handler and a
# 100-Hz ITIMER_PROF a second in gets its own ticks (about 100 per
# CPU-second, not the recorder's 19 as well), and keeps its handler and timer
# after the recorder steps aside (one line on stderr says so); one that
# resets every signal to SIG_DFL is not killed by the recorder's next signal,
# while a SIGPROF sent with kill still ends it as it would without us.
# A program that ignores SIGPROF keeps passing SIG_IGN on to what it runs.
# The CPU rule never trips here, so the recorder is the only user of SIGPROF.
. "$(dirname "$0")/lib.sh"
write_config "$WORK/c.json" '{ "interval_ms": 100, "dump_dir": "@DUMPS@", "cpu": { "abs": 1000, "window": 0 } }'

out=$(under_shim "$WORK/c.json" "$WORKLOADS/sigprof_midwindow" own 3000 2>"$WORK/err") || fail "own handler: exit $?: $out"
note "$out"
rate=$(printf '%s' "$out" | sed -n 's/^ticks per cpu-second \([0-9]*\),.*/\1/p')
[ -n "$rate" ] || fail "unexpected output: $out"
[ "$rate" -ge 70 ] && [ "$rate" -le 130 ] || fail "the program's handler got $rate ticks per CPU-second, want ~100"
printf '%s' "$out" | grep -q "handler kept, timer kept" || fail "the program lost its SIGPROF: $out"
[ "$(grep -c 'libconan: the program uses SIGPROF' "$WORK/err")" -eq 1 ] \
    || fail "want one line saying the recorder steps aside, got: $(cat "$WORK/err")"

out=$(under_shim "$WORK/c.json" "$WORKLOADS/sigprof_midwindow" reset 2500 2>&1); rc=$?
[ $rc -eq 0 ] && [ "$out" = survived ] || fail "reset to SIG_DFL with the recorder running: exit $rc, output: $out"

# A SIGPROF someone sends still ends a program whose disposition is the
# default, with the same status as without the shim (128 + SIGPROF), though
# the recorder's handler is installed.
catches_sigprof() { # catches_sigprof PID — SIGPROF's bit in the process's SigCgt
    local cgt
    cgt=$(awk '/^SigCgt/ { print $2 }' "/proc/$1/status" 2>/dev/null) && [ -n "$cgt" ] &&
        [ $(( 0x$cgt & (1 << ($(kill -l PROF) - 1)) )) -ne 0 ]
}
killed_status() { # killed_status [SHIM CONFIG] — idle's status once sent kill -PROF
    if [ $# -gt 0 ]; then LD_PRELOAD="$1" CONAN_CONFIG="$2" "$WORKLOADS/idle" 20000 & else "$WORKLOADS/idle" 20000 & fi
    local pid=$! status
    # under the shim, wait (setup) until the recorder's handler is installed
    [ $# -eq 0 ] || wait_for 10 catches_sigprof "$pid" || fail "the recorder's SIGPROF handler never appeared"
    kill -PROF "$pid"
    wait "$pid"; status=$?
    echo "$status"
}
plain_status=$(killed_status)
shim_status=$(killed_status "$LIBCONAN" "$WORK/c.json")
[ "$plain_status" = $((128 + $(kill -l PROF))) ] || fail "idle without the shim: kill -PROF gave status $plain_status"
[ "$shim_status" = "$plain_status" ] || fail "kill -PROF: status $shim_status under the shim, $plain_status without"

# A program that ignores SIGPROF (bash's trap '' PROF) passes SIG_IGN on to
# what it executes: the recorder steps aside within a tick, so the command
# bash runs half a second later starts with SIGPROF ignored, as without us.
# (Not under TSan, whose runtime refuses a forked child that starts threads,
# and keeps signal dispositions of its own.)
if [ "$SANITIZED" = tsan ]; then
    note "SKIP part: under tsan: bash forks children that start threads"
    exit 0
fi
out=$(under_shim "$WORK/c.json" bash -c "trap '' PROF; sleep 0.5; grep SigIgn /proc/self/status" 2>"$WORK/err") \
    || fail "bash exited $?: $(cat "$WORK/err")"
mask=$(printf '%s' "$out" | awk '{ print $2 }')
[ -n "$mask" ] && [ $(( 0x$mask & (1 << ($(kill -l PROF) - 1)) )) -ne 0 ] \
    || fail "the command bash ran does not ignore SIGPROF (SigIgn $mask): the recorder kept SIG_DFL in place"
grep -q 'libconan: the program ignores SIGPROF' "$WORK/err" || fail "no line says the recorder stays off: $(cat "$WORK/err")"
exit 0
