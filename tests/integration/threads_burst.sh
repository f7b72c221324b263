#!/usr/bin/env bash
# A burst of 50 threads from spawn_workers, all waiting in wait_for_work, plus
# one thread that blocks every signal and one stuck in an uninterruptible
# wait (a vfork parent). On demand: the threadcreate profile attributes the 50
# to spawn_workers (start routine: worker); the threads profile shows 50 stacks in wait_for_work in
# state S, and counts the other two with an "unavailable" frame (one blocks
# SIGPROF, one did not answer, state D) — without the snapshot waiting longer
# than threads.wait_ms for them. The late signal to the D-state thread is
# handled by libconan when it arrives: the program ends normally.
. "$(dirname "$0")/lib.sh"
require_go
write_config "$WORK/c.json" '{ "dump_dir": "@DUMPS@", "cpu": { "enable": false }, "heap": { "sample_bytes": 0 },
  "threads": { "wait_ms": 100 } }'
out=$(under_shim "$WORK/c.json" "$WORKLOADS/threads_burst" 50 "$DUMPS" blocked dstate 2 2>"$WORK/err") \
    || { cat "$WORK/err" >&2; fail "workload failed (status $?)"; }
[ "$out" = "threads 52 done" ] || fail "unexpected output: $out"
create="$DUMPS/$(dumps_of_kind threadcreate | head -1)"
threads="$DUMPS/$(dumps_of_kind threads | head -1)"
[ -f "$create" ] && [ -f "$threads" ] || fail "missing thread profiles: $(ls "$DUMPS")"

spawned=$(pprof -top -sample_index=threadcreate "$create" | awk '$NF == "spawn_workers" { print $1 }')
[ "$spawned" = 50 ] || { pprof -top "$create" >&2; fail "threadcreate gives spawn_workers $spawned threads, want 50"; }
pprof -tags "$create" | grep -q '50.0 (.*): worker' || { pprof -tags "$create" >&2; fail "the start routine label does not name worker for the 50"; }

waiting=$(pprof -top -tagfocus=state=S -focus=wait_for_work "$threads" | awk '$NF == "wait_for_work" { print $4 }')
[ "$waiting" = 50 ] || { pprof -top -tagfocus=state=S "$threads" >&2; fail "$waiting threads in wait_for_work in state S, want 50"; }
pprof -tags "$threads" > "$WORK/tags"
grep -q '1.0 (.*): blocks SIGPROF' "$WORK/tags" || { cat "$WORK/tags" >&2; fail "the thread blocking signals is not counted as unavailable"; }
grep -q '1.0 (.*): no answer in time' "$WORK/tags" || { cat "$WORK/tags" >&2; fail "the D-state thread is not counted as unavailable"; }
dstate=$(pprof -top -tagfocus=state=D "$threads" | awk '$NF == "unavailable" { print $1 }')
[ "$dstate" = 1 ] || fail "no thread in state D with an unavailable frame"
event=$(grep '"kind":"threads"' "$DUMPS/events.jsonl")
took=$(json_field "$event" duration_s)
note "snapshot of 53 threads took ${took}s (wait bound 0.1 s)"
awk -v t="$took" 'BEGIN { exit !(t < 0.3) }' || fail "the snapshot took ${took}s, beyond its 100-ms bound"
exit 0
