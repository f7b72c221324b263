#!/usr/bin/env bash
# stalled.sh — a Pyroscope that accepts the first upload and then says nothing
# for 30 s does not reach the program: under the shim with its spawned agent
# stuck in that upload, a program in continuous mode writes its CPU profiles
# on schedule (one per second of its run) and its output and exit status are
# those it has without the shim; afterwards every dump arrives once.
source "$SOURCE_ROOT/tests/agent/lib.sh"
need_protobuf

start_receiver stalled --stall-first-s 30
mkdir -p "$DUMPS"
write_config "$WORK/c.json" '{ "app": "t", "interval_ms": 100, "dump_dir": "@DUMPS@", "mode": "continuous",
  "continuous": { "every_s": 1 }, "cpu": { "profile_seconds": 1 }, "heap": { "enable": false },
  "report": { "pyroscope": { "url": "http://127.0.0.1:'"$port"'", "timeout_s": 40 }, "idle_exit_s": 10 } }'
"$WORKLOADS/two_threads" 6 >"$WORK/plain.out" 2>"$WORK/plain.err"
plain_status=$?
under_shim "$WORK/c.json" "$WORKLOADS/two_threads" 6 >"$WORK/out" 2>"$WORK/err"
status=$?
[ $status = $plain_status ] || fail "the program exited $status under the shim, $plain_status without"
cmp -s "$WORK/plain.out" "$WORK/out" || fail "the program's output changed under the shim"
cmp -s "$WORK/plain.err" "$WORK/err" || fail "the program's stderr under the shim: $(cat "$WORK/err")"
grep -q stalled "$WORK/stalled.requests" || fail "the agent's first upload never reached the receiver"
n=$(count_dumps cpu)
# continuous.every_s 1 over a 6-s run with 1-s windows: a profile every 1-2 s.
[ "$n" -ge 3 ] || fail "only $n CPU dumps in 6 s while the agent was stuck in an upload"
total=$(ls "$DUMPS" | grep -c '\.pb\.gz$')
agent=$(agents_of "$DUMPS")
[ -n "$agent" ] || fail "no agent serves $DUMPS: $(cat "$DUMPS/.conan-agent.log" 2>/dev/null)"
# Then, once the stall ends (answered 503: no acknowledgment), everything arrives once.
wait_for 60 eval '[ "$(grep -c "\"status\": 200" "$WORK/stalled.requests")" -ge '"$total"' ]' ||
    fail "not every dump arrived after the stall: $(cat "$WORK/stalled.requests")"
check stalled "$total"
note "$n CPU dumps ($total in all) written while the agent was stuck; all delivered once afterwards"
exit 0
