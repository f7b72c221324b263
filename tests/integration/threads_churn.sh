#!/usr/bin/env bash
# 1000 threads created and ended — a third returning, a third calling
# pthread_exit, a third cancelled — leave the registry exactly where it was:
# the threadcreate profiles taken before and after count the same live
# threads, and the number made by pthread_create that are still registered is
# the same too.
. "$(dirname "$0")/lib.sh"
skip_under_tsan "a thread cancelled inside a call libtsan intercepts for an uninstrumented program" \
    "leaves TSan's ignore state set, which it reports as fatal"
require_go
write_config "$WORK/c.json" '{ "dump_dir": "@DUMPS@", "cpu": { "enable": false }, "heap": { "sample_bytes": 0 } }'
out=$(under_shim "$WORK/c.json" "$WORKLOADS/threads_churn" 1000 "$DUMPS") || fail "workload failed"
[ "$out" = "returned 334, exited 333, cancelled 333" ] || fail "unexpected output: $out"
[ "$(count_dumps threadcreate)" -eq 2 ] || fail "want 2 threadcreate profiles, got $(count_dumps threadcreate)"
before=$(grep '"kind":"threadcreate"' "$DUMPS/events.jsonl" | sed -n 1p)
after=$(grep '"kind":"threadcreate"' "$DUMPS/events.jsonl" | sed -n 2p)
note "live threads before $(json_field "$before" samples), after $(json_field "$after" samples)"
[ "$(json_field "$before" samples)" = "$(json_field "$after" samples)" ] || fail "live count changed: $before / $after"
registered() { pprof -raw "$DUMPS/$(dumps_of_kind threadcreate | sed -n "$1p")" | sed -n 's/.*, \([0-9]*\) made by pthread_create.*/\1/p'; }
[ -n "$(registered 1)" ] && [ "$(registered 1)" = "$(registered 2)" ] \
    || fail "registered threads before $(registered 1), after $(registered 2)"
exit 0
