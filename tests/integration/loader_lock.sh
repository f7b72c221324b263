#!/usr/bin/env bash
# Threads that hold the C library's loader lock most of the time (looping in
# dl_iterate_phdr) are sampled without deadlock: the signal handler never
# takes that lock (unwind tables come from a snapshot the monitor builds).
. "$(dirname "$0")/lib.sh"
require_go
write_config "$WORK/c.json" '{ "interval_ms": 100, "dump_dir": "@DUMPS@",
  "cpu": { "abs": 20, "window": 0, "cooldown_s": 1, "profile_seconds": 1 } }'
out=$(timeout 40 env LD_PRELOAD="$LIBCONAN" CONAN_CONFIG="$WORK/c.json" "$WORKLOADS/loader_busy" 4); rc=$?
[ $rc -ne 124 ] || fail "the program hung (deadlock) under the shim"
[ $rc -eq 0 ] && [ "$out" = done ] || fail "exit $rc, output: $out"
n=$(count_dumps cpu)
[ "$n" -ge 2 ] || fail "want profiles from the busy run, got $n"
f="$DUMPS/$(dumps_of_kind cpu | head -1)"
pprof -top -cum "$f" | grep -q "walk_loaded_objects" || fail "walk_loaded_objects not in the stacks"
note "$n profiles; $(head -1 "$DUMPS/events.jsonl" | grep -o '"samples":[0-9]*,"dropped":[0-9]*')"
exit 0
