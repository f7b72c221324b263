#!/usr/bin/env bash
# A server-style program whose threads block in read, write, accept, connect,
# poll, select, epoll_wait and nanosleep, handling EINTR, beside a busy thread,
# runs through back-to-back CPU windows at 1000 Hz and a thread snapshot every
# tick, with each CPU timer. Its output is unchanged; read, write and accept
# never see EINTR (SA_RESTART); how often poll, select, epoll_wait and
# nanosleep did (allowed, as under every SIGPROF profiler) is reported.
. "$(dirname "$0")/lib.sh"
"$WORKLOADS/eintr_loops" 3000 "$WORK/plain.counts" >"$WORK/plain.out" || fail "without the shim"
for timer in thread process; do
    rm -rf "$DUMPS"
    write_config "$WORK/c.json" '{ "interval_ms": 100, "dump_dir": "@DUMPS@", "limits": { "max_dumps_per_hour": 3600 },
      "cpu": { "min": 0, "abs": 1, "window": 0, "cooldown_s": 0, "profile_seconds": 1, "timer": "'$timer'", "hz": 1000 },
      "threads": { "min": 0, "abs": 3, "window": 0, "cooldown_s": 0 } }'
    under_shim "$WORK/c.json" "$WORKLOADS/eintr_loops" 3000 "$WORK/counts" >"$WORK/out" 2>"$WORK/err" \
        || fail "$timer timer: status $? $(cat "$WORK/err")"
    cmp -s "$WORK/plain.out" "$WORK/out" || fail "$timer timer: output changed: $(cat "$WORK/out")"
    [ ! -s "$WORK/err" ] || fail "$timer timer: stderr: $(cat "$WORK/err")"
    windows=$(grep -c '"kind":"cpu"' "$DUMPS/events.jsonl")
    snapshots=$(grep -c '"kind":"threads"' "$DUMPS/events.jsonl")
    note "$timer timer: $windows CPU windows, $snapshots snapshots; EINTR: $(paste -s -d' ' "$WORK/counts")"
    [ "$windows" -ge 2 ] && [ "$snapshots" -ge 10 ] || fail "$timer timer: too little profiling to test anything"
    for call in read write accept; do
        n=$(awk -v c=$call '$1 == c { print $2 }' "$WORK/counts")
        [ "$n" = 0 ] || fail "$timer timer: $call returned EINTR $n times despite SA_RESTART"
    done
done
exit 0
