#!/usr/bin/env bash
# The process-wide timer (setitimer) fallback: chosen by cpu.timer "process"
# and automatically above cpu.thread_timer_limit; the event line says which ran
# and the samples are the two busy threads' work. Which thread gets each signal
# of a process-wide timer is the kernel's choice (since Linux 6.4, the thread
# whose tick saw the expiry): the split can be far from even (figure 3 of
# docs/BENCHMARKS.md), and a CI run once saw one of the two threads get none,
# so the split is reported, not asserted.
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
    pprof -top -cum -nodefraction=0 -sample_index=samples "$f" > "$WORK/top" || fail "$cfg: pprof cannot read $f"
    # "Showing nodes accounting for …, …% of N total", then rows "flat flat% sum% cum cum% name".
    read -r total left right < <(awk '/ total$/ { total = $(NF - 1) }
        $6 == "burn_left" { left = $4 } $6 == "burn_right" { right = $4 }
        END { print total + 0, left + 0, right + 0 }' "$WORK/top")
    [ "$total" -ge 20 ] || fail "$cfg: only $total samples for two busy threads: $line"
    [ $((left + right)) -ge $((total * 9 / 10)) ] ||
        fail "$cfg: of $total samples only $((left + right)) are in burn_left/burn_right: $(pprof -top "$f" | head -20)"
    note "$cfg: samples=$total (burn_left $left, burn_right $right) cpu_s=$(json_field "$line" cpu_s)"
done
exit 0
