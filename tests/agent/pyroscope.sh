#!/usr/bin/env bash
# pyroscope.sh — conan agent sends a CPU dump, its window's wall dump and a heap dump to Pyroscope,
# checked by a receiver that enforces the documented contract
# (tests/agent/pyroscope_receiver.py: Connect Push decoded with
# python3-protobuf from cli/proto, each raw_profile decoded as pprof; /ingest's
# query and both body forms): api push (with a tenant and a bearer token),
# api ingest with the raw body (with basic auth) and with the multipart form.
# Each profile arrives once, with the right __name__, service_name, pid,
# trigger, version, labels and tags (a tag key that is no label name renamed),
# __delta__="false" for heap, an ID derived from the host and the file name
# only (the heap event's app is renamed: the ID stays, service_name follows
# the event), and the sample counts `conan top --json` and the event give. A
# url with userinfo is used as it is, but never shown in the log or the state
# file.
source "$SOURCE_ROOT/tests/agent/lib.sh"
need_protobuf

# One CPU dump (spike burns a CPU after 3 calm seconds) and one heap dump.
mkdir -p "$DUMPS"
write_config "$WORK/cpu.json" '{ "app": "t", "interval_ms": 250, "dump_dir": "@DUMPS@",
  "cpu": { "min": 10, "diff": 25, "window": 8, "cooldown_s": 60, "profile_seconds": 2 } }'
write_config "$WORK/heap.json" '{ "app": "t", "interval_ms": 250, "dump_dir": "@DUMPS@",
  "cpu": { "enable": false }, "heap": { "min": 0, "abs": 48, "window": 0 } }'
under_shim "$WORK/cpu.json" "$WORKLOADS/spike" 3000 4000 1 0 >/dev/null 2>&1
under_shim "$WORK/heap.json" "$WORKLOADS/heap_leak" 64 "$DUMPS" >/dev/null 2>&1
[ "$(count_dumps cpu)" = 1 ] || fail "the spike workload wrote $(count_dumps cpu) CPU dumps, not 1"
[ "$(count_dumps heap)" = 1 ] || fail "the heap_leak workload wrote $(count_dumps heap) heap dumps, not 1"
[ "$(count_dumps wall)" = 1 ] || fail "the spike workload's window wrote $(count_dumps wall) wall dumps, not 1"
for kind in cpu heap wall; do
    "$CONAN" top --json "$DUMPS/$(dumps_of_kind $kind)" > "$WORK/top.$kind.json" || fail "conan top --json failed on the $kind dump"
done

printf 'the-token\n' > "$WORK/bearer"
printf 'alice:s3cret\n' > "$WORK/basic"

# run_mode NAME PYROSCOPE_JSON RECEIVER_ARGS... — a copy of the dumps in
# $WORK/NAME, a receiver of its own, and `conan agent --once` between them.
run_mode() {
    local name=$1 pyroscope=$2; shift 2
    local dir="$WORK/$name"
    mkdir -p "$dir"
    cp "$DUMPS"/*.pb.gz "$dir/"
    "$PY" -c 'import json, sys
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e["kind"] == "heap":
        e["app"] = "t_renamed"
    print(json.dumps(e))' "$DUMPS/events.jsonl" > "$dir/events.jsonl"
    "$PY" "$SOURCE_ROOT/tests/agent/pyroscope_receiver.py" --source-root "$SOURCE_ROOT" --scratch "$WORK/py.$name" \
        --port-file "$dir.port" --log "$dir.log" --violations "$dir.violations" --requests "$dir.requests" "$@" \
        2>"$dir.receiver.err" &
    receivers+=($!)
    wait_for 20 test -s "$dir.port" || fail "$name: the receiver did not start: $(cat "$dir.receiver.err")"
    local port
    port=$(cat "$dir.port")
    cat > "$dir.json" <<EOF
{ "app": "t", "version": "1.2.3", "dump_dir": "$dir", "tags": { "team": "core", "bad.key": "x" },
  "report": { "pyroscope": { "url": "http://127.0.0.1:$port/", ${pyroscope}, "labels": { "env": "test" } } } }
EOF
    "$CONAN" agent --once --config "$dir.json" 2>"$dir.agent.err" ||
        fail "$name: conan agent --once failed: $(cat "$dir.agent.err")"
    grep -q "tag 'bad.key' sent as label 'bad_key'" "$dir.agent.err" ||
        fail "$name: the renamed tag was not logged: $(cat "$dir.agent.err")"
    [ ! -s "$dir.violations" ] || fail "$name: the receiver saw contract violations: $(cat "$dir.violations")"
    [ ! -s "$dir.receiver.err" ] || fail "$name: the receiver failed: $(cat "$dir.receiver.err")"
    "$PY" - "$name" "$dir" "$WORK" <<'EOF' || fail "$name: the profiles received are not the dumps (above)"
import json, socket, sys, uuid
name, d, work = sys.argv[1:]
api = "push" if name == "push" else "ingest"
got = [json.loads(l) for l in open(d + ".log")]
events = {json.loads(l)["kind"]: json.loads(l) for l in open(d + "/events.jsonl")}
requests = [json.loads(l) for l in open(d + ".requests")]
problems = []
def want(cond, what):
    if not cond:
        problems.append(what)
want(len(got) == 3, "%d profiles accepted, not 3: %s" % (len(got), got))
want(len(requests) == 3 and all(r["status"] == 200 for r in requests), "requests: %s" % requests)
metric = {"process_cpu": "cpu", "memory": "heap", "wall": "wall"}
namespace = uuid.UUID("55489004-7950-46a4-ae3d-50231571fb02")
for g in got:
    want(g["api"] == api, "api %s" % g["api"])
    if api == "push":
        kind = metric.get(g["labels"]["__name__"])
    else:
        kind = "cpu" if "cpu" in g["sample_types"] else "wall" if "wall" in g["sample_types"] else "heap"
    ev = events.get(kind)
    if not ev:
        problems.append("no event for %s" % g)
        continue
    top = json.load(open("%s/top.%s.json" % (work, kind)))
    labels = g["labels"]
    want(labels.get("pid") == str(ev["pid"]), "%s: pid %s, event %s" % (kind, labels.get("pid"), ev["pid"]))
    want(labels.get("trigger") == "%s %s" % (ev["metric"], ev["reason"]), "%s: trigger %s" % (kind, labels.get("trigger")))
    for k, v in (("version", "1.2.3"), ("env", "test"), ("team", "core"), ("bad_key", "x")):
        want(labels.get(k) == v, "%s: label %s=%r, not %r" % (kind, k, labels.get(k), v))
    want(g["samples"] == top["samples"], "%s: %d samples, conan top says %d" % (kind, g["samples"], top["samples"]))
    want(g["sums"][top["type"]] == top["total"], "%s: %s total %d, conan top says %d" % (kind, top["type"], g["sums"][top["type"]], top["total"]))
    if kind == "cpu":
        recorded = ev["samples"] + ev.get("before_samples", 0)  # the window's and the flight recorder's
        want(g["sums"]["samples"] == recorded, "cpu: %d samples, the event says %d" % (g["sums"]["samples"], recorded))
    base = ev["file"].rsplit("/", 1)[1]
    if api == "push":
        want(labels.get("service_name") == ev["app"], "%s: service_name %r, not %r" % (kind, labels.get("service_name"), ev["app"]))
        want(labels.get("__delta__") == ("false" if kind == "heap" else None), "%s: __delta__ %r" % (kind, labels.get("__delta__")))
        want(g["id"] == str(uuid.uuid5(namespace, "%s/%s" % (socket.gethostname(), base))),
             "%s: ID %s is not the one derived from host and file name" % (kind, g["id"]))
        want(g["tenant"] == "acme", "%s: tenant %r" % (kind, g["tenant"]))
    else:
        want(g["app"] == ev["app"], "%s: ingest app %r, not %r" % (kind, g["app"], ev["app"]))
        want(g["body"] == name.split("_")[1], "%s: body %s" % (kind, g["body"]))
        want(g["spy"] == "conan", "%s: spyName %r" % (kind, g["spy"]))
        if kind == "heap":
            want(g["end"] - g["start"] <= 1, "heap: from %d until %d for a snapshot" % (g["start"], g["end"]))
        else:
            want(g["end"] - g["start"] >= int(ev["duration_s"]), "%s: from %d until %d for a %.1f-s window" % (kind, g["start"], g["end"], ev["duration_s"]))
if api == "push":
    want(len({g["id"] for g in got}) == 3, "two of the three dumps have one ID")
for p in problems:
    print("  " + p)
sys.exit(1 if problems else 0)
EOF
    note "$name: 2 profiles, $(wc -l < "$dir.requests") requests, no violation"
}

run_mode push '"tenant": "acme", "bearer_token_file": "'"$WORK/bearer"'"' \
    --expect-tenant acme --expect-authorization "Bearer the-token"
run_mode ingest_raw '"api": "ingest", "body": "raw", "basic_auth_file": "'"$WORK/basic"'"' \
    --expect-authorization "Basic $(printf 'alice:s3cret' | base64)"
run_mode ingest_multipart '"api": "ingest", "body": "multipart"'

# A url with userinfo (which report.pyroscope's validation may refuse): its
# credentials are what the request carries, and they are in no log line (a
# first answer of 500 makes one that names the url) nor in the state file.
mkdir -p "$WORK/userinfo"
cp "$DUMPS"/*.pb.gz "$DUMPS/events.jsonl" "$WORK/userinfo/"
start_receiver userinfo --fail-first 1 --fail-status 500 --expect-authorization "Basic $(printf 'bob:pa55word' | base64)"
cat > "$WORK/userinfo.json" <<EOF
{ "app": "t", "dump_dir": "$WORK/userinfo", "report": { "pyroscope": { "url": "http://bob:pa55word@127.0.0.1:$port/" } } }
EOF
"$CONAN" agent --once --timeout 20 --config "$WORK/userinfo.json" 2>"$WORK/userinfo.err"
status=$?
! grep -q 'pa55word' "$WORK/userinfo.err" || fail "the url's password is in the log: $(cat "$WORK/userinfo.err")"
if [ $status -eq 0 ]; then
    check userinfo 2
    grep -q "pyroscope http://127.0.0.1:$port/push.v1.PusherService/Push: HTTP 500" "$WORK/userinfo.err" ||
        fail "the retried 500 was not logged with the url: $(cat "$WORK/userinfo.err")"
    ! grep -q 'pa55word\|bob' "$WORK/userinfo/.conan-agent.state" ||
        fail "the url's userinfo is in the state file: $(cat "$WORK/userinfo/.conan-agent.state")"
    [ "$(grep -cP "^sent\tpyroscope http://127.0.0.1:$port/\t" "$WORK/userinfo/.conan-agent.state")" -eq 2 ] ||
        fail "the deliveries are not keyed by the url without userinfo: $(cat "$WORK/userinfo/.conan-agent.state")"
elif [ $status -eq 2 ]; then
    note "the config refuses a url with userinfo: $(cat "$WORK/userinfo.err")"
else
    fail "conan agent --once exited $status with a url with userinfo: $(cat "$WORK/userinfo.err")"
fi
echo "ok: push, ingest raw and ingest multipart each delivered the CPU and heap dumps once, as the contract says"
