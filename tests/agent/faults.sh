#!/usr/bin/env bash
# faults.sh — conan agent against a Pyroscope receiver that misbehaves
# (tests/agent/pyroscope_receiver.py's fault flags): down at first, then up;
# answering 500, 429 (Retry-After), 400 and 401; stalling an upload longer than
# the timeout; the agent killed with SIGKILL mid-upload and restarted. Every
# dump must arrive, and each profile ID must be acknowledged (answered 200)
# exactly once; a 400 is logged with the server's message and not retried.
source "$SOURCE_ROOT/tests/agent/lib.sh"
need_protobuf
heap_dump t

# 1. Down at first, then up: the agent retries until it is, then everything arrives once.
fault_case down 3 10 --down-until-file "$WORK/down.up"
"$CONAN" agent --once --timeout 60 --config "$WORK/down.json" 2>"$WORK/down.agent.err" &
agents+=($!)
wait_for 20 grep -q "not delivered (attempt 1)" "$WORK/down.agent.err" ||
    fail "down: the agent did not report the refused connection: $(cat "$WORK/down.agent.err")"
touch "$WORK/down.up"
wait "${agents[-1]}" || fail "down: conan agent --once failed: $(cat "$WORK/down.agent.err")"
check down 3
grep -q "delivered after" "$WORK/down.agent.err" || fail "down: no line says the retries succeeded"
note "down, then up: 3 dumps once each; $(grep -c 'attempt' "$WORK/down.agent.err") failure line(s)"

# 2. 500 twice, then fine; 429 with Retry-After: retried, delivered once.
for status in 500 429; do
    fault_case "s$status" 2 10 --fail-first 2 --fail-status "$status"
    "$CONAN" agent --once --timeout 60 --config "$WORK/s$status.json" 2>"$WORK/s$status.agent.err" ||
        fail "$status: conan agent --once failed: $(cat "$WORK/s$status.agent.err")"
    check "s$status" 2
    grep -q "HTTP $status" "$WORK/s$status.agent.err" || fail "$status: the failure was not logged: $(cat "$WORK/s$status.agent.err")"
    [ "$(grep -c . "$WORK/s$status.requests")" = 4 ] ||
        fail "$status: $(grep -c . "$WORK/s$status.requests") requests for 2 dumps and 2 failures, not 4"
done
note "500 and 429: retried, each dump acknowledged once"

# 3. 400: logged with the server's message, never retried; --once says so.
fault_case s400 1 10 --fail-first 1 --fail-status 400
"$CONAN" agent --once --timeout 20 --config "$WORK/s400.json" 2>"$WORK/s400.agent.err" &&
    fail "400: conan agent --once exited 0 although the dump was refused"
grep -q "not delivered, not retried: .*HTTP 400.*fault injected" "$WORK/s400.agent.err" ||
    fail "400: the refusal was not logged with the server's message: $(cat "$WORK/s400.agent.err")"
[ "$(grep -c . "$WORK/s400.requests")" = 1 ] || fail "400: the refused dump was sent again"
"$CONAN" agent --once --timeout 20 --config "$WORK/s400.json" 2>"$WORK/s400.again.err" ||
    fail "400: a second run tried again: $(cat "$WORK/s400.again.err")"
[ "$(grep -c . "$WORK/s400.requests")" = 1 ] || fail "400: a restarted agent sent the refused dump again"
note "400: one request, logged with the server's message, not retried after a restart"

# 3b. 401 (a credential to fix): the reporter pauses and the dump waits, never
#     dropped; --once says so and exits 1; the next run delivers it.
fault_case s401 1 10 --fail-first 1 --fail-status 401
"$CONAN" agent --once --timeout 20 --config "$WORK/s401.json" 2>"$WORK/s401.agent.err" &&
    fail "401: conan agent --once exited 0 although nothing was delivered"
grep -q "HTTP 401.*paused" "$WORK/s401.agent.err" || fail "401: the pause was not logged: $(cat "$WORK/s401.agent.err")"
! grep -q "^dropped" "$WORK/s401/.conan-agent.state" || fail "401: the dump was dropped"
"$CONAN" agent --once --timeout 20 --config "$WORK/s401.json" 2>"$WORK/s401.again.err" ||
    fail "401: the next run did not deliver: $(cat "$WORK/s401.again.err")"
check s401 1
note "401: paused, the dump kept, delivered by the next run"

# 4. A stall longer than report.pyroscope.timeout_s: the upload times out, is retried, arrives once.
fault_case stall 2 2 --stall-first-s 30
"$CONAN" agent --once --timeout 60 --config "$WORK/stall.json" 2>"$WORK/stall.agent.err" ||
    fail "stall: conan agent --once failed: $(cat "$WORK/stall.agent.err")"
check stall 2
grep -qi "timed out\|timeout" "$WORK/stall.agent.err" || fail "stall: the timeout was not logged: $(cat "$WORK/stall.agent.err")"
note "stall: timed out after 2 s, retried, delivered once"

# 5. SIGKILL mid-upload, then a restart: nothing lost, nothing acknowledged twice,
#    and what the first agent delivered is not sent again.
fault_case kill 1 30 --stall-first-s 60 --stall-request 2
"$CONAN" agent --once --config "$WORK/kill.json" 2>"$WORK/kill1.agent.err" || fail "kill: the first delivery failed"
make_dir kill 2 200
"$CONAN" agent --config "$WORK/kill.json" 2>"$WORK/kill2.agent.err" &
agents+=($!)
wait_for 30 grep -q stalled "$WORK/kill.requests" || fail "kill: the upload never reached the receiver"
kill -9 "${agents[-1]}"
wait "${agents[-1]}" 2>/dev/null
"$CONAN" agent --once --timeout 60 --config "$WORK/kill.json" 2>"$WORK/kill3.agent.err" ||
    fail "kill: the restarted agent failed: $(cat "$WORK/kill3.agent.err")"
check kill 3
"$PY" - "$WORK/kill.requests" <<'EOF' || fail "kill: the dump delivered before the kill was sent again"
import json, sys
reqs = [json.loads(l) for l in open(sys.argv[1])]
sys.exit(1 if [r["id"] for r in reqs].count(reqs[0]["id"]) != 1 else 0)
EOF
note "kill -9 mid-upload: the restarted agent sent the rest once and nothing twice"
exit 0
