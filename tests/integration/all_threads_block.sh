#!/usr/bin/env bash
# When every thread blocks SIGPROF (a sigwait design), no window opens, in
# either timer mode: our signal would stay pending or be taken by the program's
# sigwait loop. The event line says why.
. "$(dirname "$0")/lib.sh"
for timer in thread process; do
    rm -rf "$DUMPS"
    write_config "$WORK/c.json" '{ "interval_ms": 100, "dump_dir": "@DUMPS@",
      "cpu": { "min": 0, "abs": '"$BUSY_ABS"', "window": 0, "cooldown_s": 600, "profile_seconds": 1, "timer": "'$timer'" } }'
    out=$(under_shim "$WORK/c.json" "$WORKLOADS/sigwaiter" 1500 2>"$WORK/err") || fail "$timer: workload failed"
    [ "$out" = "sigprofs received 0" ] || fail "$timer: the program's sigwait got our signals: $out"
    [ "$(count_dumps cpu)" -eq 0 ] || fail "$timer: a window opened"
    grep -q '"error":"every thread blocks SIGPROF"' "$DUMPS/events.jsonl" || fail "$timer: no event says why"
    [ ! -s "$WORK/err" ] || fail "$timer: stderr: $(cat "$WORK/err")"
done
exit 0
