#!/usr/bin/env bash
# The conan tool on real programs' dumps, end to end.
#  a. Debian's redis-server started with `conan run --config` (exec'd: the
#     pid is redis's), under a GET/SET/LPUSH load: `conan trigger --kinds
#     cpu,heap,threads,mutex --seconds 1` prints four dumps of that pid; `conan ls`
#     lists them as ok, tripped "manual" (redis rewrites its environment for
#     its process title, so trigger needs --config, and says so without it); conan top equals go tool pprof -top
#     on each, and the CPU profile names redis's command processing
#     (processCommand, from its .dynsym); conan flame writes a page and
#     --folded adds up to the profile's total; conan diff of two CPU profiles
#     gives shares that add up to 100 on each side; SHUTDOWN NOSAVE ends it
#     with status 0.
#  b. Debian's nginx (master and a forked worker, `user root` so the worker
#     can write the dumps) started with `conan run --set` (a temporary config:
#     conan run waits for its child), loaded with wrk: `conan trigger` of the
#     worker gives a CPU dump whose conan top equals pprof's; SIGTERM to conan
#     run reaches nginx, which exits 0, and so does conan run, its temporary
#     config removed. (Not SIGQUIT: a shell starts background jobs with INT
#     and QUIT ignored, and conan run keeps what it was given.)
. "$SOURCE_ROOT/tests/integration/lib.sh"
. "$SOURCE_ROOT/tests/cli/pprof_compare.sh"
require_go
redis_server=$(command -v redis-server) || skip "redis-server is not installed; scripts/setup.sh installs it"
command -v redis-benchmark >/dev/null || skip "redis-tools is not installed; scripts/setup.sh installs it"
nginx=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$nginx" ] || skip "nginx is not installed; scripts/setup.sh installs it"
command -v wrk >/dev/null || skip "wrk is not installed; scripts/setup.sh installs it"

running=()
trap 'for p in "${running[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$WORK"' EXIT
write_config "$WORK/c.json" '{ "app": "redis", "interval_ms": 100, "dump_dir": "@DUMPS@",
  "cpu": { "abs": 1000, "window": 0, "hz": 250 }, "heap": { "sample_bytes": 65536 } }'

# a. redis
port=$(free_port)
mkdir -p "$WORK/redis"
"$CONAN" run --config "$WORK/c.json" -- "$redis_server" --port "$port" --bind 127.0.0.1 --save "" --appendonly no \
    --daemonize no --dir "$WORK/redis" >"$WORK/redis/log" 2>"$WORK/redis/err" &
pid=$!
running+=("$pid")
wait_for 15 eval "[ \"\$(redis-cli -p $port PING 2>/dev/null)\" = PONG ]" || fail "redis did not answer: $(cat "$WORK/redis/log")"
redis-benchmark -p "$port" -q -n 100000000 -c 4 -P 8 -t set,get,lpush >/dev/null 2>&1 &
bench=$!
running+=("$bench")
commands() { redis-cli -p "$port" INFO stats | tr -d '\r' | sed -n 's/^total_commands_processed://p'; }
before=$(commands)
wait_for 15 eval "[ \$(commands) -gt \$((before + 10000)) ]" || fail "the load did not start"

# redis rewrites its environment for its process title: CONAN_CONFIG is gone
# from /proc/PID/environ, which conan trigger says, asking for --config.
"$CONAN" trigger "$pid" --wait 5 > "$WORK/out" 2> "$WORK/trigger.err"
[ $? -eq 1 ] && [ ! -s "$WORK/out" ] && grep -q "environment was rewritten.*--config FILE" "$WORK/trigger.err" \
    || fail "redis's rewritten environment: $(cat "$WORK/trigger.err")"
"$CONAN" trigger "$pid" --config "$WORK/c.json" --kinds cpu,heap,threads,mutex --seconds 1 --wait 30 > "$WORK/paths" 2> "$WORK/trigger.err" \
    || fail "conan trigger failed: $(cat "$WORK/trigger.err")"
"$CONAN" trigger "$pid" --config "$WORK/c.json" --kinds cpu --seconds 1 --wait 30 > "$WORK/paths2" 2>> "$WORK/trigger.err" \
    || fail "the second conan trigger failed: $(cat "$WORK/trigger.err")"
kill "$bench"
for kind in cpu wall heap threads mutex; do
    grep -q "/redis\.$pid\.$kind\.[0-9T]*\.[0-9]*\.pb\.gz$" "$WORK/paths" || fail "no $kind dump of pid $pid among: $(cat "$WORK/paths")"
done
cpu=$(grep '\.cpu\.' "$WORK/paths"); cpu2=$(grep '\.cpu\.' "$WORK/paths2")
"$CONAN" ls --json "$DUMPS" > "$WORK/ls.json" || fail "conan ls failed"
python3 - "$WORK/ls.json" "$WORK/paths" "$pid" <<'PY' || exit 1
import json, sys
rows = {r["file"]: r for r in json.load(open(sys.argv[1]))}
for path in open(sys.argv[2]).read().split():
    r = rows.get(path)
    if not r or r["status"] != "ok" or r["pid"] != int(sys.argv[3]) or r["tripped"] != "manual":
        sys.exit(f"FAIL: conan ls row for {path}: {r}")
PY
for f in $(cat "$WORK/paths"); do compare_all "$f"; done
"$CONAN" top --json "$cpu" | grep -q '"name":"processCommand"' || fail "the CPU profile does not name processCommand: $("$CONAN" top -n 15 "$cpu")"
"$CONAN" flame -o "$WORK/redis.html" "$cpu" >/dev/null || fail "conan flame failed"
[ -s "$WORK/redis.html" ] || fail "no flame graph page"
total=$("$CONAN" top --json "$cpu" | sed -n 's/.*"total":\([0-9]*\).*/\1/p')
folded=$("$CONAN" flame --folded "$cpu" | awk '{ s += $NF } END { printf "%d", s }')
[ "$folded" = "$total" ] || fail "folded stacks add up to $folded, the profile's total is $total"
"$CONAN" diff --json "$cpu" "$cpu2" > "$WORK/diff.json"
[ $? -le 1 ] || fail "conan diff failed"
python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
for side in ("base_share", "new_share"):
    t = sum(x[side] for x in d["functions"])
    assert abs(t - 100) < 0.01, f"{side} sums to {t}"
' "$WORK/diff.json" || fail "conan diff shares"
redis-cli -p "$port" SHUTDOWN NOSAVE >/dev/null 2>&1
wait "$pid"; status=$?
[ $status -eq 0 ] || fail "redis under conan run exited $status"
note "redis: $(wc -l < "$WORK/paths") dumps, processCommand named, top = pprof"

# b. nginx
port=$(free_port)
nginx_conf "$port" 1
tmpdir="$WORK/tmp"; mkdir -p "$tmpdir"
TMPDIR="$tmpdir" "$CONAN" run --config "$WORK/c.json" --set app=nginx --set follow_fork=true -- \
    "$nginx" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -e "$WORK/nginx/logs/error.log" &
run=$!
running+=("$run")
wait_for 15 eval "curl -fs http://127.0.0.1:$port/ >/dev/null" || fail "nginx did not answer: $(cat "$WORK/nginx/logs/error.log")"
worker=$(pgrep -f "nginx: worker process" | while read -r w; do [ "$(ps -o ppid= -p "$(ps -o ppid= -p "$w" | tr -d ' ')" | tr -d ' ')" = "$run" ] && echo "$w"; done | head -1)
[ -n "$worker" ] || fail "no nginx worker under conan run $run"
wrk -t1 -c8 -d60s "http://127.0.0.1:$port/" >/dev/null 2>&1 &
load=$!
running+=("$load")
"$CONAN" trigger "$worker" --config "$WORK/c.json" --kinds cpu --seconds 1 --wait 30 > "$WORK/nginx.paths" 2> "$WORK/trigger.err" \
    || fail "conan trigger of the nginx worker failed: $(cat "$WORK/trigger.err")"
kill "$load"
f=$(grep '\.cpu\.' "$WORK/nginx.paths"); wall=$(grep '\.wall\.' "$WORK/nginx.paths")
[[ "$f" == */nginx.$worker.cpu.*.pb.gz ]] || fail "not the worker's CPU dump: $(cat "$WORK/nginx.paths")"
[[ "$wall" == */nginx.$worker.wall.*.pb.gz ]] || fail "not the worker's wall dump: $(cat "$WORK/nginx.paths")"
compare_all "$f"
compare_all "$wall"
kill -TERM "$run"
wait "$run"; status=$?
[ $status -eq 0 ] || fail "conan run of nginx exited $status after SIGTERM"
[ -z "$(ls -A "$tmpdir")" ] || fail "conan run left its temporary config: $(ls -A "$tmpdir")"
note "nginx: worker $worker's CPU and wall dumps, top = pprof, SIGTERM passed through"
exit 0
