#!/usr/bin/env bash
# A thread-snapshot request queued for a thread that is inside execve must not
# follow it into the new program (where SIGPROF is SIG_DFL and would kill it).
# With the threads rule tripping every 10 ms, 40 programs that exec while busy
# must all end with /bin/true's status 0. (Requests sent as SI_QUEUE signals
# killed about 30% of them; they are now timer signals, which execve discards.)
. "$(dirname "$0")/lib.sh"
write_config "$WORK/c.json" '{ "dump_dir": "@DUMPS@", "interval_ms": 10, "limits": { "max_dumps_per_hour": 3600 },
  "cpu": { "enable": false }, "heap": { "sample_bytes": 0 },
  "threads": { "min": 0, "abs": 5, "window": 0, "cooldown_s": 0, "wait_ms": 5 } }'
died=0
for run in $(seq 1 40); do
    under_shim "$WORK/c.json" "$WORKLOADS/exec_busy" >/dev/null 2>&1 || died=$((died + 1))
done
snapshots=$(grep -c '"kind":"threads"' "$DUMPS/events.jsonl" 2>/dev/null || echo 0)
note "40 exec'ing programs, $died died; $snapshots snapshots taken meanwhile"
[ "$snapshots" -ge 40 ] || fail "only $snapshots snapshots: the test did not exercise the race"
[ "$died" -eq 0 ] || fail "$died of 40 programs died after exec"
exit 0
