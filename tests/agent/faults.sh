#!/usr/bin/env bash
# faults.sh — conan agent against a Pyroscope receiver that misbehaves
# (tests/agent/pyroscope_receiver.py's fault flags): down at first, then up;
# answering 500, 429 (Retry-After) and 400; stalling an upload longer than
# the timeout; the agent killed with SIGKILL mid-upload and restarted. Every
# dump must arrive, and each profile ID must be acknowledged (answered 200)
# exactly once; a 400 is logged with the server's message and not retried.
source "$SOURCE_ROOT/tests/integration/lib.sh"

PY=/usr/bin/python3
[ -x "$PY" ] && "$PY" -c 'import google.protobuf' 2>/dev/null ||
    skip "Debian's python3-protobuf is not installed (scripts/setup.sh installs it)"
command -v protoc >/dev/null || skip "protoc (protobuf-compiler) is not installed (scripts/setup.sh installs it)"

# Three small dumps to send: heap profiles of one run (a trip and its
# follow-ups would take long; copies under other sequence numbers are
# dumps of their own to the agent, with events of their own).
mkdir -p "$DUMPS"
write_config "$WORK/heap.json" '{ "app": "t", "interval_ms": 250, "dump_dir": "@DUMPS@",
  "cpu": { "enable": false }, "heap": { "min": 0, "abs": 48, "window": 0 } }'
under_shim "$WORK/heap.json" "$WORKLOADS/heap_leak" 64 "$DUMPS" >/dev/null 2>&1
[ "$(count_dumps heap)" = 1 ] || fail "the heap_leak workload wrote $(count_dumps heap) heap dumps, not 1"
original=$(dumps_of_kind heap)

# make_dir NAME N [FIRST] — N more dumps (sequence numbers FIRST, FIRST+1, ...;
# default 100) and their events in the dump directory $WORK/NAME.
make_dir() {
    local dir="$WORK/$1" n=$2
    mkdir -p "$dir"
    "$PY" - "$DUMPS" "$original" "$dir" "$n" "${3:-100}" <<'EOF'
import json, os, re, shutil, sys
src, name, dst, n, first = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
event = [json.loads(l) for l in open(os.path.join(src, "events.jsonl")) if name in l][0]
with open(os.path.join(dst, "events.jsonl"), "a") as out:
    for i in range(n):
        copy = re.sub(r"\.(\d+)\.pb\.gz$", ".%d.pb.gz" % (first + i), name)
        shutil.copyfile(os.path.join(src, name), os.path.join(dst, copy))
        event["file"] = os.path.join(dst, copy)
        out.write(json.dumps(event) + "\n")
EOF
}

receivers=()
agents=()
at_exit 'for p in "${agents[@]}" "${receivers[@]}"; do kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; done'

# start_receiver NAME ARGS... — a receiver of its own; its port in $port.
start_receiver() {
    local name=$1; shift
    rm -f "$WORK/$name.port"
    "$PY" "$SOURCE_ROOT/tests/agent/pyroscope_receiver.py" --source-root "$SOURCE_ROOT" --scratch "$WORK/py" \
        --port-file "$WORK/$name.port" --log "$WORK/$name.log" --violations "$WORK/$name.violations" \
        --requests "$WORK/$name.requests" "$@" 2>"$WORK/$name.receiver.err" &
    receivers+=($!)
    wait_for 20 test -s "$WORK/$name.port" || fail "$name: the receiver did not start: $(cat "$WORK/$name.receiver.err")"
    port=$(cat "$WORK/$name.port")
}

# config NAME DIR PORT [TIMEOUT_S]
config() {
    cat > "$WORK/$1.json" <<EOF
{ "app": "t", "dump_dir": "$2",
  "report": { "pyroscope": { "url": "http://127.0.0.1:$3", "timeout_s": ${4:-10} } } }
EOF
}

# check NAME WANT — WANT profiles accepted, each ID acknowledged exactly once, no violation.
check() {
    local name=$1 want=$2
    [ ! -s "$WORK/$name.violations" ] || fail "$name: contract violations: $(cat "$WORK/$name.violations")"
    "$PY" - "$WORK/$name.requests" "$want" <<'EOF' || fail "$name: deliveries are wrong (above)"
import collections, json, sys
reqs = [json.loads(l) for l in open(sys.argv[1])]
want = int(sys.argv[2])
acked = collections.Counter(r["id"] for r in reqs if r.get("status") == 200)
twice = [i for i, c in acked.items() if c > 1]
ids = {r["id"] for r in reqs}
problems = []
if twice: problems.append("acknowledged more than once: %s" % twice)
if len(acked) != want: problems.append("%d profiles acknowledged, not %d" % (len(acked), want))
if ids - set(acked): problems.append("sent but never acknowledged: %s" % (ids - set(acked)))
for p in problems: print("  " + p)
sys.exit(1 if problems else 0)
EOF
}

# 1. Down at first, then up: the agent retries until it is, then everything arrives once.
make_dir down 3
start_receiver down --down-until-file "$WORK/down.up"
config down "$WORK/down" "$port"
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
    make_dir "s$status" 2
    start_receiver "s$status" --fail-first 2 --fail-status "$status"
    config "s$status" "$WORK/s$status" "$port"
    "$CONAN" agent --once --timeout 60 --config "$WORK/s$status.json" 2>"$WORK/s$status.agent.err" ||
        fail "$status: conan agent --once failed: $(cat "$WORK/s$status.agent.err")"
    check "s$status" 2
    grep -q "HTTP $status" "$WORK/s$status.agent.err" || fail "$status: the failure was not logged: $(cat "$WORK/s$status.agent.err")"
    [ "$(grep -c . "$WORK/s$status.requests")" = 4 ] ||
        fail "$status: $(grep -c . "$WORK/s$status.requests") requests for 2 dumps and 2 failures, not 4"
done
note "500 and 429: retried, each dump acknowledged once"

# 3. 400: logged with the server's message, never retried; --once says so.
make_dir s400 1
start_receiver s400 --fail-first 1 --fail-status 400
config s400 "$WORK/s400" "$port"
"$CONAN" agent --once --timeout 20 --config "$WORK/s400.json" 2>"$WORK/s400.agent.err" &&
    fail "400: conan agent --once exited 0 although the dump was refused"
grep -q "not delivered, not retried: .*HTTP 400.*fault injected" "$WORK/s400.agent.err" ||
    fail "400: the refusal was not logged with the server's message: $(cat "$WORK/s400.agent.err")"
[ "$(grep -c . "$WORK/s400.requests")" = 1 ] || fail "400: the refused dump was sent again"
"$CONAN" agent --once --timeout 20 --config "$WORK/s400.json" 2>"$WORK/s400.again.err" ||
    fail "400: a second run tried again: $(cat "$WORK/s400.again.err")"
[ "$(grep -c . "$WORK/s400.requests")" = 1 ] || fail "400: a restarted agent sent the refused dump again"
note "400: one request, logged with the server's message, not retried after a restart"

# 4. A stall longer than report.pyroscope.timeout_s: the upload times out, is retried, arrives once.
make_dir stall 2
start_receiver stall --stall-first-s 30
config stall "$WORK/stall" "$port" 2
"$CONAN" agent --once --timeout 60 --config "$WORK/stall.json" 2>"$WORK/stall.agent.err" ||
    fail "stall: conan agent --once failed: $(cat "$WORK/stall.agent.err")"
check stall 2
grep -qi "timed out\|timeout" "$WORK/stall.agent.err" || fail "stall: the timeout was not logged: $(cat "$WORK/stall.agent.err")"
note "stall: timed out after 2 s, retried, delivered once"

# 5. SIGKILL mid-upload, then a restart: nothing lost, nothing acknowledged twice,
#    and what the first agent delivered is not sent again.
make_dir kill 1
start_receiver kill --stall-first-s 60 --stall-request 2
config kill "$WORK/kill" "$port" 30
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
