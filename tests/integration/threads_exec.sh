#!/usr/bin/env bash
# A thread-snapshot request queued for a thread that is inside execve must not
# follow it into the new program (where SIGPROF is SIG_DFL and would kill it).
# With the threads rule tripping every 10 ms, programs that exec while busy
# must all end with /bin/true's status 0. (Requests sent as SI_QUEUE signals
# killed about 30% of them; they are now timer signals, which execve discards.)
. "$(dirname "$0")/lib.sh"
write_config "$WORK/c.json" '{ "dump_dir": "@DUMPS@", "interval_ms": 10, "limits": { "max_dumps_per_hour": 3600 },
  "cpu": { "enable": false }, "heap": { "sample_bytes": 0 },
  "threads": { "min": 0, "abs": 5, "window": 0, "cooldown_s": 0, "wait_ms": 5 } }'
# Programs run until 40 snapshots have been taken meanwhile (at least 40
# programs, at most 400 or 120 s): on a loaded machine a program's 50-150 ms
# before exec holds fewer ticks (40 programs saw 11 snapshots beside another
# suite), and the race needs snapshots to be exercised.
died=0 runs=0 snapshots=0 deadline=$((SECONDS + 120))
while [ $runs -lt 40 ] || { [ "$snapshots" -lt 40 ] && [ $runs -lt 400 ] && [ $SECONDS -lt $deadline ]; }; do
    under_shim "$WORK/c.json" "$WORKLOADS/exec_busy" >/dev/null 2>&1 || died=$((died + 1))
    runs=$((runs + 1))
    # grep -c prints 0 and fails when the file has no such line: one number either way.
    snapshots=$(grep -c '"kind":"threads"' "$DUMPS/events.jsonl" 2>/dev/null || true)
    snapshots=${snapshots:-0}
done
note "$runs exec'ing programs, $died died; $snapshots snapshots taken meanwhile"
[ "$died" -eq 0 ] || fail "$died of $runs programs died after exec"
[ "$snapshots" -ge 40 ] || fail "only $snapshots snapshots in $runs programs: the test did not exercise the race"
exit 0
