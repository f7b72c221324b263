#!/usr/bin/env bash
# spawned.sh — the whole path with nobody starting the agent: a program under
# the shim with report.pyroscope set trips its CPU rule; the agent the shim
# spawned sends the dump and its window's wall dump to the (contract-checking)
# Pyroscope receiver once each,
# after the program has already exited with its own status and output.
source "$SOURCE_ROOT/tests/agent/lib.sh"
need_protobuf

start_receiver spawned
mkdir -p "$DUMPS"
write_config "$WORK/c.json" '{ "app": "t", "interval_ms": 250, "dump_dir": "@DUMPS@",
  "cpu": { "min": 10, "diff": 25, "window": 8, "cooldown_s": 60, "profile_seconds": 2 },
  "report": { "pyroscope": { "url": "http://127.0.0.1:'"$port"'" }, "idle_exit_s": 10 } }'
"$WORKLOADS/spike" 3000 4000 1 0 >"$WORK/plain.out" 2>"$WORK/plain.err"
plain_status=$?
under_shim "$WORK/c.json" "$WORKLOADS/spike" 3000 4000 1 0 >"$WORK/out" 2>"$WORK/err"
status=$?
[ $status = $plain_status ] || fail "the program exited $status under the shim, $plain_status without"
cmp -s "$WORK/plain.out" "$WORK/out" || fail "the program's output changed under the shim"
cmp -s "$WORK/plain.err" "$WORK/err" || fail "the program's stderr under the shim: $(cat "$WORK/err")"
[ "$(count_dumps cpu)" = 1 ] && [ "$(count_dumps wall)" = 1 ] ||
    fail "the spike workload wrote $(count_dumps cpu) CPU and $(count_dumps wall) wall dumps, not 1 each"
agent=$(agents_of "$DUMPS")
[ -n "$agent" ] || fail "no conan agent serves $DUMPS: $(cat "$DUMPS/.conan-agent.log" 2>/dev/null)"
wait_for 30 eval '[ "$(grep -c . "$WORK/spawned.log" 2>/dev/null)" -ge 2 ]' ||
    fail "the spawned agent did not send both dumps: $(cat "$DUMPS/.conan-agent.log")"
check spawned 2
"$PY" - "$WORK/spawned.log" "$DUMPS/events.jsonl" <<'PYEOF' || fail "the profile received is not the dump"
import json, sys
got = [json.loads(l) for l in open(sys.argv[1])]
ev = [json.loads(l) for l in open(sys.argv[2])][0]
names = sorted(g["labels"]["__name__"] for g in got)
ok = names == ["process_cpu", "wall"] and all(g["labels"]["pid"] == str(ev["pid"]) and g["labels"]["service_name"] == "t" for g in got)
sys.exit(0 if ok else 1)
PYEOF
note "spawned agent $agent delivered the CPU and wall dumps (its idle exit: integration/agent_spawn_idle)"
exit 0
