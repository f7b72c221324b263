#!/usr/bin/env bash
# queue.sh — 1000 dumps queued while Pyroscope is down: the agent's memory
# stays bounded (its peak RSS with 1000 waiting is within a few MiB of its
# peak with 10: dumps are read when sent, events by offset), and once the
# receiver is up every one of them is acknowledged exactly once.
source "$SOURCE_ROOT/tests/agent/lib.sh"
need_protobuf
heap_dump t
[ -x /usr/bin/time ] || skip "/usr/bin/time (package time) is not installed (scripts/setup.sh installs it)"

# peak_kib NAME N — the agent's peak RSS (KiB) delivering N dumps, the first
# attempt with the receiver down, in $peak (not printed: a receiver started
# in a command substitution would hold its output open).
peak_kib() {
    local name=$1 n=$2
    fault_case "$name" "$n" 10 --down-until-file "$WORK/$name.up"
    /usr/bin/time -f %M -o "$WORK/$name.rss" "$CONAN" agent --once --timeout 150 --config "$WORK/$name.json" \
        2>"$WORK/$name.agent.err" &
    agents+=($!)
    wait_for 20 grep -q "not delivered (attempt 1)" "$WORK/$name.agent.err" ||
        fail "$name: the agent did not report the receiver down: $(cat "$WORK/$name.agent.err")"
    touch "$WORK/$name.up"
    wait "${agents[-1]}" || fail "$name: conan agent --once failed: $(cat "$WORK/$name.agent.err")"
    check "$name" "$n"
    peak=$(cat "$WORK/$name.rss")
}

peak_kib ten 10
small=$peak
peak_kib thousand 1000
large=$peak
note "peak RSS: $small KiB with 10 dumps, $large KiB with 1000"
[ $((large - small)) -lt 8192 ] ||
    fail "1000 queued dumps cost $(( (large - small) / 1024 )) MiB more than 10: the queue is not bounded"
exit 0
