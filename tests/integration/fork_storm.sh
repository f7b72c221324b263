#!/usr/bin/env bash
# fork from four threads at once, 300 times in all, while threads are created
# and ended, every allocation is sampled, CPU windows open and close (100 ms
# ticks, continuous mode) and thread snapshots signal running threads: every
# child must run its allocations and a thread of its own, and exit normally.
# A child that hangs in an atfork hook (a lock one module's hook holds while
# another's needs it, as happened once) is reported by the workload (threads_fork) after 20 s
# instead of hanging the test. 300 forks catch a 1-in-50 hang with
# probability 1 - (49/50)^300 > 99.7%.
. "$(dirname "$0")/lib.sh"
skip_if_sanitized "the sanitizers' runtimes cannot fork a process whose threads allocate (see threads_fork.sh)"
write_config "$WORK/c.json" '{ "dump_dir": "@DUMPS@", "mode": "continuous", "interval_ms": 100,
  "continuous": { "every_s": 1 }, "heap": { "sample_bytes": 1 },
  "cpu": { "profile_seconds": 1, "hz": 250 }, "limits": { "max_dumps_per_hour": 3600 } }'
out=$(timeout 170 env LD_PRELOAD="$LIBCONAN" CONAN_CONFIG="$WORK/c.json" "$WORKLOADS/threads_fork" 75 4) \
    || fail "workload failed or a child hung (status $?): $out"
[ "$out" = "children ok 300 of 300" ] || fail "unexpected output: $out"
exit 0
