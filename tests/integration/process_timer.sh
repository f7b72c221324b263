#!/usr/bin/env bash
# The process-wide timer (setitimer) fallback: chosen by cpu.timer "process"
# and automatically above cpu.thread_timer_limit; the event line says which ran
# and both busy threads are sampled.
. "$(dirname "$0")/lib.sh"
require_go
for cfg in '"timer": "process"' '"timer": "thread", "thread_timer_limit": 1'; do
    rm -rf "$DUMPS"
    write_config "$WORK/c.json" '{ "interval_ms": 100, "dump_dir": "@DUMPS@",
      "cpu": { "min": 0, "abs": '"$BUSY_ABS"', "window": 0, "cooldown_s": 600, "profile_seconds": 1, '"$cfg"' } }'
    under_shim "$WORK/c.json" "$WORKLOADS/two_threads" 2 >/dev/null 2>"$WORK/err" || fail "workload failed"
    [ ! -s "$WORK/err" ] || fail "$cfg: unexpected stderr: $(cat "$WORK/err")"
    line=$(head -1 "$DUMPS/events.jsonl")
    [ "$(json_field "$line" timer)" = process ] || fail "$cfg: timer was not process: $line"
    f="$DUMPS/$(dumps_of_kind cpu)"
    pprof -comments "$f" | grep -q "cpu timer: process" || fail "$cfg: comment does not name the process timer"
    for fn in burn_left burn_right; do
        pprof -top -sample_index=samples "$f" | grep -q " $fn\$" || fail "$cfg: $fn not sampled"
    done
    note "$cfg: samples=$(json_field "$line" samples) cpu_s=$(json_field "$line" cpu_s)"
done
exit 0
