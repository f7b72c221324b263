#!/usr/bin/env bash
# The mutex profile has the known answer: four threads queue for a mutex in
# queue_for_the_lock while another holds it for 3 ms at a time in
# hold_the_lock. The program times every lock call itself and then asks for
# a mutex profile (a trigger file naming the kind), so the profile covers
# exactly its waits. The profile blames the waiters' stacks (go tool pprof
# reads it; the holder's function is never a waiting leaf), and its total
# delay/nanoseconds is within 15% of the total the program measured, the
# waits carry the waiters' label (role=waiter); the event says what was
# sampled.
. "$(dirname "$0")/lib.sh"
require_go
mkdir -p "$DUMPS"
write_config "$WORK/c.json" '{ "interval_ms": 100, "dump_dir": "@DUMPS@",
  "cpu": { "enable": false }, "mutex": { "rule": { "enable": false } } }'
out=$(under_shim "$WORK/c.json" "$WORKLOADS/mutex_queue" 1.5 3000 "$DUMPS") || fail "workload exited $?"
[ "$(printf '%s\n' "$out" | tail -1)" = done ] || fail "workload output: $out"
waited=$(printf '%s\n' "$out" | awk '$1 == "waited" { print $2 }')
[ "$(count_dumps mutex)" -eq 1 ] || { cat "$DUMPS/events.jsonl" >&2; fail "want 1 mutex dump, got $(count_dumps mutex)"; }
file="$DUMPS/$(dumps_of_kind mutex)"
event=$(grep -F "\"file\":\"$file\"" "$DUMPS/events.jsonl")
[ "$(json_field "$event" reason)" = manual ] || fail "event: $event"
[ "$(json_field "$event" samples)" -gt 100 ] || fail "too few waits sampled: $event"

pprof -raw "$file" >"$WORK/raw.txt" || { cat "$WORK/pprof.err" >&2; fail "go tool pprof cannot read $file"; }
grep -q "^contentions/count delay/nanoseconds" "$WORK/raw.txt" || fail "sample types: $(head -5 "$WORK/raw.txt")"
[ "$(top_function "$file" delay)" = queue_for_the_lock ] || { pprof -top -sample_index=delay "$file" >&2; fail "the waiters are not the top of delay"; }
# Total delay: the sum over samples, as the reader computes it (of the
# samples through a function, with -focus).
delay_of() {
    pprof -top -sample_index=delay -unit=ns ${1:+-focus="$1"} "$file" |
        sed -n 's/.*accounting for \([0-9.]*\)ns, [0-9.]*% of \([0-9.]*\)ns total.*/\1/p'
}
delay=$(delay_of)
[ -n "$delay" ] || { pprof -top -sample_index=delay -unit=ns "$file" >&2; fail "no total delay"; }
queued=$(delay_of queue_for_the_lock)
held=$(delay_of hold_the_lock)
# The holder waits only for a waiter's empty critical section.
awk -v q="${queued:-0}" -v h="${held:-0}" -v t="$delay" 'BEGIN { exit !(q >= 0.95 * t && h <= 0.05 * t) }' ||
    fail "delay: $delay ns in all, $queued ns in queue_for_the_lock, $held ns in hold_the_lock"
# Each wait carries its thread's labels (the waiters set role=waiter).
waiters=$(pprof -top -sample_index=delay -unit=ns -tagfocus=role=waiter "$file" |
    sed -n 's/.*accounting for \([0-9.]*\)ns.*/\1/p')
awk -v w="${waiters:-0}" -v t="$delay" 'BEGIN { exit !(w >= 0.95 * t) }' ||
    { pprof -tags "$file" >&2; fail "role=waiter carries $waiters ns of $delay ns"; }
note "program measured $waited ns of waiting; the profile says $delay ns"
awk -v got="$delay" -v want="$waited" 'BEGIN { exit !(got >= 0.85 * want && got <= 1.15 * want) }' ||
    fail "delay $delay ns is not within 15% of the $waited ns the program measured"
exit 0
