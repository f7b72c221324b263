#!/usr/bin/env bash
# A burst of 50 threads from spawn_workers, all waiting in wait_for_work, plus
# a thread blocking every signal while it sleeps, one blocking every signal
# while it spins, one stuck in an uninterruptible wait (a vfork parent, state
# D), and three sleeping in nanosleep, select and poll. On demand:
# - threadcreate attributes the 50 to spawn_workers (start routine: worker);
# - the threads profile shows 50 in wait_for_work in state S; the sleeping
#   signal-blocker and the D-state thread have their stacks too (blocked
#   threads are walked from /proc, without a signal); the spinning one, which
#   would need a signal it blocks, is counted with an "unavailable" frame;
# - no sleep is cut short (no signal reaches a blocked thread), and the
#   snapshot stays within threads.wait_ms.
. "$(dirname "$0")/lib.sh"
skip_under_tsan "libtsan turns vfork into fork, so the workload's vfork parent is never in D state"
require_go
write_config "$WORK/c.json" '{ "dump_dir": "@DUMPS@", "cpu": { "enable": false }, "heap": { "sample_bytes": 0 },
  "threads": { "wait_ms": 100 } }'
out=$(under_shim "$WORK/c.json" "$WORKLOADS/threads_burst" 50 "$DUMPS" blocked dstate 2 spinner sleepers 2>"$WORK/err") \
    || { cat "$WORK/err" >&2; fail "workload failed (status $?)"; }
[ "$out" = "sleeps cut short 0
threads 56 done" ] || fail "unexpected output: $out"
create="$DUMPS/$(dumps_of_kind threadcreate | head -1)"
threads="$DUMPS/$(dumps_of_kind threads | head -1)"
[ -f "$create" ] && [ -f "$threads" ] || fail "missing thread profiles: $(ls "$DUMPS")"

spawned=$(pprof -top -sample_index=threadcreate "$create" | awk '$NF == "spawn_workers" { print $1 }')
[ "$spawned" = 50 ] || { pprof -top "$create" >&2; fail "threadcreate gives spawn_workers $spawned threads, want 50"; }
pprof -tags "$create" | grep -q '50.0 (.*): worker' || { pprof -tags "$create" >&2; fail "the start routine label does not name worker for the 50"; }

cum_in() { pprof -top ${2:-} "$threads" | awk -v f="$1" '$NF == f { print $4 }'; }
[ "$(cum_in wait_for_work -tagfocus=state=S)" = 50 ] || { pprof -top -tagfocus=state=S "$threads" >&2; fail "not 50 threads in wait_for_work in state S"; }
[ "$(cum_in sleep_with_signals_blocked)" = 1 ] || fail "the sleeping thread that blocks signals has no stack"
[ "$(cum_in dstate_thread -tagfocus=state=D)" = 1 ] || [ "$(cum_in vfork -tagfocus=state=D)" = 1 ] \
    || { pprof -top -tagfocus=state=D "$threads" >&2; fail "the D-state thread has no stack"; }
[ "$(cum_in sleeper_thread)" = 3 ] || fail "the three sleepers have no stacks"
pprof -tags "$threads" > "$WORK/tags"
grep -q '1.0 (.*): blocks SIGPROF' "$WORK/tags" || { cat "$WORK/tags" >&2; fail "the spinning signal-blocker is not counted as unavailable"; }
[ "$(pprof -top -tagfocus=state=R "$threads" | awk '$NF == "unavailable" { print $1 }')" = 1 ] \
    || fail "the unavailable thread does not carry its state R"
event=$(grep '"kind":"threads"' "$DUMPS/events.jsonl")
took=$(json_field "$event" duration_s)
note "snapshot of 57 threads took ${took}s (wait bound 0.1 s)"
# The wait for answers is bounded by wait_ms (100 ms); the rest of the
# snapshot is work: reading /proc and walking the stacks of 57 threads, whose
# wall time a loaded machine stretches (0.33 s beside another suite, against
# a 0.3-s bound that left 0.2 s for it). The failures this guards against
# cost far more: a wait per thread is 5.7 s, an unbounded one never ends. So
# the bound is 1 s.
awk -v t="$took" 'BEGIN { exit !(t < 1.0) }' || fail "the snapshot took ${took}s, beyond its 100-ms wait bound and the work"
exit 0
