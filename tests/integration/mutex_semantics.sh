#!/usr/bin/env bash
# Lock semantics are the C library's with the mutex profiler on: a scripted
# sequence over normal, recursive, errorcheck, robust (EOWNERDEAD,
# ENOTRECOVERABLE), priority-inheritance, timed and clock mutexes, rwlocks
# and condition variables prints every result, and the output is identical
# with and without the shim. Every contended wait is sampled (sample_ns
# 1000), so the slow path runs for each; the shim really timed them (its
# mutex profile, asked for at exit... is not needed: the rule writes one).
. "$(dirname "$0")/lib.sh"
mkdir -p "$DUMPS"
write_config "$WORK/c.json" '{ "interval_ms": 50, "dump_dir": "@DUMPS@", "cpu": { "enable": false },
  "mutex": { "sample_ns": 1000, "rule": { "abs": 1, "min": 0, "window": 0, "cooldown_s": 0 } } }'
"$WORKLOADS/mutex_semantics" >"$WORK/plain.out" 2>"$WORK/plain.err" || fail "plain run exited $?"
under_shim "$WORK/c.json" "$WORKLOADS/mutex_semantics" >"$WORK/shim.out" 2>"$WORK/shim.err" ||
    fail "run under the shim exited $?"
[ "$(grep -c . "$WORK/plain.out")" -ge 90 ] || fail "short output: $(cat "$WORK/plain.out")"
diff "$WORK/plain.out" "$WORK/shim.out" >&2 || fail "results differ under the shim"
same_output "$WORK/plain" "$WORK/shim"
# The waits were seen: the mutex rule tripped on them and wrote a profile.
[ "$(count_dumps mutex)" -ge 1 ] || { cat "$DUMPS/events.jsonl" >&2; fail "no mutex profile: the waits were not timed"; }
exit 0
