#!/usr/bin/env bash
# conan agent's pull endpoint (report.listen): with report.token_file every
# request needs the bearer token (none or a wrong one: 401 with
# WWW-Authenticate); /debug/pprof/profile?seconds=2 returns a CPU profile of
# the process under libconan whose window lasted about 2 s, /debug/pprof/heap
# a heap profile; /dumps/ lists the dumps and /dumps/<file> sends one, byte
# for byte; nothing else in or outside the directory is served (traversal,
# hidden files, events.jsonl, a link named like a dump: 404); other methods
# are 405; and a non-loopback address without a token is refused at start.
. "$SOURCE_ROOT/tests/integration/lib.sh"
: "${CONAN:?CONAN must point at the conan tool}"
command -v curl >/dev/null || skip "curl is not installed"
mkdir -p "$DUMPS"
pids=()
at_exit 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null'
has_monitor() { grep -qs conan-monitor /proc/"$1"/task/*/comm; }

# The workload: idle, its CPU rule unable to trip; a config of its own, with
# no report section (so the shim spawns no agent).
write_config "$WORK/app.json" '{ "app": "ep", "interval_ms": 100, "dump_dir": "@DUMPS@",
  "cpu": { "abs": 1000, "window": 0, "profile_seconds": 2 } }'
"$CONAN" run --config "$WORK/app.json" -- "$WORKLOADS/idle" 60000 >/dev/null 2>"$WORK/idle.err" & app=$!
pids+=($app)
wait_for 10 has_monitor $app || fail "the workload's monitor did not start"

TOKEN=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf '%s\n' "$TOKEN" > "$WORK/token"
chmod 600 "$WORK/token"

# req ARGS... — curl with the token; prints the status, the body to $WORK/body.
req() { curl -s --path-as-is -o "$WORK/body" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$@"; }
up() { [ "$(req "$BASE/debug/pprof/")" = 200 ]; }

# The agent, on a free port (another one if a racing test took it first).
for try in 1 2 3; do
    PORT=$(free_port)
    BASE="http://127.0.0.1:$PORT"
    write_config "$WORK/agent.json" "{ \"app\": \"ep\", \"dump_dir\": \"@DUMPS@\",
      \"report\": { \"listen\": \"127.0.0.1:$PORT\", \"token_file\": \"$WORK/token\" } }"
    "$CONAN" agent --config "$WORK/agent.json" 2>"$WORK/agent.err" & agent=$!
    pids+=($agent)
    wait_for 10 up && break
    kill $agent 2>/dev/null
    grep -q "cannot listen" "$WORK/agent.err" || fail "the agent did not come up: $(cat "$WORK/agent.err")"
done
up || fail "the agent did not come up: $(cat "$WORK/agent.err")"

# 1. The token: none, a wrong one (as long, and longer), another scheme -> 401.
for auth in "" "Bearer ${TOKEN//?/x}" "Bearer ${TOKEN}x" "Basic $TOKEN" "Bearer"; do
    code=$(curl -s -D "$WORK/headers" -o /dev/null -w '%{http_code}' ${auth:+-H "Authorization: $auth"} "$BASE/dumps/")
    [ "$code" = 401 ] || fail "Authorization '$auth': status $code, want 401"
    grep -qi '^WWW-Authenticate: Bearer' "$WORK/headers" || fail "401 without WWW-Authenticate: $(cat "$WORK/headers")"
done
code=$(curl -s -o /dev/null -w '%{http_code}' "$BASE/debug/pprof/profile?seconds=1")
[ "$code" = 401 ] || fail "a profile without the token: status $code"

# 2. A CPU profile of 2 s, of the only process writing there (no pid=): its
# duration, as the profile itself says, is about 2 s.
code=$(req -D "$WORK/headers" "$BASE/debug/pprof/profile?seconds=2")
[ "$code" = 200 ] || fail "profile?seconds=2: status $code: $(head -c 500 "$WORK/body")"
grep -qi '^Content-Type: application/octet-stream' "$WORK/headers" || fail "profile: $(cat "$WORK/headers")"
grep -qiE "^Content-Disposition: attachment; filename=\"ep\.$app\.cpu\.[0-9T]+\.[0-9]+\.pb\.gz\"" "$WORK/headers" ||
    fail "profile's Content-Disposition: $(cat "$WORK/headers")"
cp "$WORK/body" "$WORK/cpu.pb.gz"
"$CONAN" top "$WORK/cpu.pb.gz" --json > "$WORK/cpu.json" || fail "the CPU profile does not read"
grep -q '"type":"cpu"' "$WORK/cpu.json" || fail "not a CPU profile: $(head -c 300 "$WORK/cpu.json")"
if command -v go >/dev/null; then
    pprof -raw "$WORK/cpu.pb.gz" | grep -q '^PeriodType: cpu nanoseconds' || fail "go tool pprof: $(cat "$WORK/pprof.err")"
else
    note "go is not installed: the CPU profile is read by conan top only"
fi
times=$(/usr/bin/python3 "$SOURCE_ROOT/tests/bench/profile_times.py" "$WORK/cpu.pb.gz") || fail "cannot read the profile's duration"
duration=$(awk -v t="$times" 'BEGIN { split(t, f, " "); print f[2] / 1e9 }')
awk -v d="$duration" 'BEGIN { exit !(d >= 1.5 && d <= 4) }' || fail "the CPU window lasted $duration s, not about 2"

# 3. A heap profile, by pid=; a pid that is not under libconan is 400.
code=$(req "$BASE/debug/pprof/heap?pid=$app")
[ "$code" = 200 ] || fail "heap?pid=$app: status $code: $(head -c 500 "$WORK/body")"
cp "$WORK/body" "$WORK/heap.pb.gz"
"$CONAN" top "$WORK/heap.pb.gz" --json | grep -q '"type":"inuse_space"' || fail "the heap endpoint's is no heap profile"
code=$(req "$BASE/debug/pprof/heap?pid=$$")
[ "$code" = 400 ] && grep -q "not under libconan" "$WORK/body" || fail "heap?pid=$$ (no shim): $code $(cat "$WORK/body")"
code=$(req "$BASE/debug/pprof/profile?seconds=0")
[ "$code" = 400 ] || fail "seconds=0: status $code"

# 4. /dumps/ lists them; /dumps/<file> is the file, byte for byte.
code=$(req "$BASE/dumps/")
[ "$code" = 200 ] || fail "/dumps/: status $code"
heap=$(/usr/bin/python3 -c '
import json, sys
rows = json.load(open(sys.argv[1]))
heap = [r for r in rows if r["kind"] == "heap" and r["app"] == "ep" and r["pid"] == int(sys.argv[2]) and r["size"] > 0]
print(heap[0]["file"] if heap and all(set(r) == {"file", "size", "mtime", "kind", "pid", "app"} for r in rows) else "")
' "$WORK/body" $app)
[ -n "$heap" ] || fail "/dumps/ lists no heap dump of $app: $(cat "$WORK/body")"
code=$(req "$BASE/dumps/$heap")
[ "$code" = 200 ] && cmp -s "$WORK/body" "$DUMPS/$heap" || fail "/dumps/$heap: status $code, or not the file"

# 5. Nothing else: traversal, hidden files, the events, a link named like a
# dump, a directory named like one -> 404 (and the link is not listed).
ln -s /etc/passwd "$DUMPS/ep.1.cpu.20260101T000000.1.pb.gz"
mkdir "$DUMPS/ep.2.cpu.20260101T000000.1.pb.gz"
for path in /dumps/../x /dumps/..%2f..%2fetc%2fpasswd /dumps/%2e%2e%2fetc%2fpasswd /dumps/.conan-agent.state \
    /dumps/.conan-agent.lock /dumps/events.jsonl /dumps/ep.1.cpu.20260101T000000.1.pb.gz \
    /dumps/ep.2.cpu.20260101T000000.1.pb.gz "/dumps/x/../$heap" "/dumps/./$heap" /dumps//etc/passwd \
    /etc/passwd /debug/pprof/../../etc/passwd "/dumps/$heap/"; do
    code=$(req "$BASE$path")
    [ "$code" = 404 ] || fail "$path: status $code, want 404"
done
req "$BASE/dumps/" >/dev/null
! grep -q 'ep\.[12]\.cpu\.20260101' "$WORK/body" || fail "/dumps/ lists a link or a directory: $(cat "$WORK/body")"

# 6. Methods other than GET and HEAD: 405.
code=$(req -X POST "$BASE/dumps/")
[ "$code" = 405 ] || fail "POST: status $code, want 405"
code=$(req -X DELETE "$BASE/dumps/$heap")
[ "$code" = 405 ] && [ -f "$DUMPS/$heap" ] || fail "DELETE: status $code"

# 7. A non-loopback address without a token: refused, one line, status != 0.
mkdir -p "$WORK/other"
write_config "$WORK/open.json" "{ \"dump_dir\": \"$WORK/other\", \"report\": { \"listen\": \"0.0.0.0:$(free_port)\" } }"
timeout 20 "$CONAN" agent --config "$WORK/open.json" >"$WORK/open.out" 2>"$WORK/open.err"; rc=$?
[ $rc -ne 0 ] && [ $rc -ne 124 ] || fail "0.0.0.0 without a token: status $rc: $(cat "$WORK/open.err")"
[ "$(wc -l < "$WORK/open.err")" -eq 1 ] && grep -q 'report.listen: 0.0.0.0:[0-9]* is not a loopback address' "$WORK/open.err" ||
    fail "0.0.0.0 without a token said: $(cat "$WORK/open.err")"

kill -0 $agent 2>/dev/null || fail "the agent died: $(cat "$WORK/agent.err")"
! grep -q '^libconan: ' "$WORK/idle.err" || fail "libconan complained: $(cat "$WORK/idle.err")"
exit 0
