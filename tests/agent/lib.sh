# lib.sh — what the agent tests share, on top of tests/integration/lib.sh:
# Debian's Python with protobuf, a heap dump to send, dump directories of
# copies of it, the Pyroscope receiver (pyroscope_receiver.py) on a port of
# its own, and the check that each profile ID was acknowledged exactly once.
source "$SOURCE_ROOT/tests/integration/lib.sh"

PY=/usr/bin/python3
[ -x "$PY" ] || skip "$PY (Debian's python3) is not installed (scripts/setup.sh installs it)"

# need_protobuf — for the Pyroscope receiver: Google's protobuf for Python and protoc.
need_protobuf() {
    "$PY" -c 'import google.protobuf' 2>/dev/null ||
        skip "Debian's python3-protobuf is not installed (scripts/setup.sh installs it)"
    command -v protoc >/dev/null || skip "protoc (protobuf-compiler) is not installed (scripts/setup.sh installs it)"
}

# heap_dump APP — one small heap dump of app APP in $DUMPS, its name in $original.
heap_dump() {
    mkdir -p "$DUMPS"
    write_config "$WORK/heap.json" '{ "app": "'"$1"'", "interval_ms": 100, "dump_dir": "@DUMPS@",
      "cpu": { "enable": false }, "heap": { "min": 0, "abs": 24, "window": 0 }, "report": { "spawn": false } }'
    under_shim "$WORK/heap.json" "$WORKLOADS/heap_leak" 32 "$DUMPS" >/dev/null 2>&1
    [ "$(count_dumps heap)" = 1 ] || fail "the heap_leak workload wrote $(count_dumps heap) heap dumps, not 1"
    original=$(dumps_of_kind heap)
}

# make_dir NAME N [FIRST] — N more copies of $original (sequence numbers FIRST,
# FIRST+1, ...; default 100: dumps of their own to the agent) and their events
# in the dump directory $WORK/NAME.
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

# config NAME DIR PORT [TIMEOUT_S] — $WORK/NAME.json sending DIR's dumps to the receiver.
config() {
    cat > "$WORK/$1.json" <<EOF
{ "app": "t", "dump_dir": "$2",
  "report": { "pyroscope": { "url": "http://127.0.0.1:$3", "timeout_s": ${4:-10} } } }
EOF
}

# fault_case NAME N TIMEOUT_S RECEIVER_ARGS... — N dumps in $WORK/NAME, a
# receiver of its own started with RECEIVER_ARGS, and $WORK/NAME.json sending
# the directory to it with report.pyroscope.timeout_s TIMEOUT_S.
fault_case() {
    local name=$1 n=$2 timeout=$3; shift 3
    make_dir "$name" "$n"
    start_receiver "$name" "$@"
    config "$name" "$WORK/$name" "$port" "$timeout"
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
