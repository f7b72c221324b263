#!/usr/bin/env bash
# The program's signals are its own: through back-to-back CPU windows and a
# thread snapshot every tick, with either CPU timer, every thread keeps seeing
# exactly the actions it installed (SIGPROF's SIG_DFL included, flags and all)
# and the masks it set; once the windows end, the kernel's view (SigCgt,
# SigIgn, SigBlk) is what it was before them.
. "$(dirname "$0")/lib.sh"
# The thread rule trips at 4 threads: while the workload's three threads run
# (with main and the monitor, 5), a snapshot every tick; once they are joined
# (2), none, so the end state can be seen. At abs 2 snapshots went on every
# tick after the joins, and under TSan, where a snapshot lasts most of a tick,
# the kernel view showed SIGPROF held through the workload's 5-s wait.
# The flight recorder is off here: it holds SIGPROF for the program's whole
# life, so "the kernel's view before the windows" would depend on whether it
# had started yet (recorder_sigprof covers the program's view with it).
want=$(printf 'changes seen: 0\nkernel view: same')
plain=$("$WORKLOADS/signal_state" 500) || fail "without the shim"
[ "$plain" = "$want" ] || fail "the workload itself sees changes: $plain"
for timer in thread process; do
    rm -rf "$DUMPS"
    write_config "$WORK/c.json" '{ "interval_ms": 100, "dump_dir": "@DUMPS@", "limits": { "max_dumps_per_hour": 3600 },
      "recorder": { "enable": false },
      "cpu": { "min": 0, "abs": '"$BUSY_ABS"', "window": 0, "cooldown_s": 0, "profile_seconds": 1, "timer": "'$timer'" },
      "threads": { "min": 0, "abs": 4, "window": 0, "cooldown_s": 0 } }'
    got=$(under_shim "$WORK/c.json" "$WORKLOADS/signal_state" 3000 "$DUMPS" 2>"$WORK/err") || fail "$timer timer: status $?: $(tail -20 "$WORK/err")"
    [ "$got" = "$want" ] || fail "$timer timer: $got $(cat "$WORK/err")"
    windows=$(grep -c '"kind":"cpu"' "$DUMPS/events.jsonl" 2>/dev/null || true)
    snapshots=$(grep -c '"kind":"threads"' "$DUMPS/events.jsonl" 2>/dev/null || true)
    note "$timer timer: $windows CPU windows, $snapshots snapshots, no change seen"
    [ "${windows:-0}" -ge 2 ] && [ "${snapshots:-0}" -ge 5 ] ||
        fail "$timer timer: too little profiling to test anything ($windows windows, $snapshots snapshots; stderr: $(cat "$WORK/err"))"
done
exit 0
