#!/usr/bin/env bash
# One agent for a server and its forked workers (src/agent_spawn.c): Debian's
# nginx, master and two workers (each with a monitor of its own), under the
# shim with a reporter configured. report.agent is a wrapper that records each
# start and execs the real `conan agent`: exactly one start, and exactly one
# agent process for the directory, over a whole check period (5 s with
# idle_exit_s 10) after the workers are up; its parent is not nginx; the
# workers mark the directory in use (the lock's mtime moves); requests are
# served throughout and nginx exits 0 on SIGQUIT.
. "$(dirname "$0")/lib.sh"
skip_forking_children_if_sanitized
nginx=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$nginx" ] || skip "nginx is not installed; scripts/setup.sh installs it"
command -v curl >/dev/null || skip "curl is not installed; scripts/setup.sh installs it"

master=""
at_exit '[ -n "$master" ] && kill "$master" 2>/dev/null; for p in $(agents_of "$DUMPS"); do kill "$p" 2>/dev/null; done'

cat >"$WORK/agent" <<SH
#!/bin/sh
echo \$\$ >>"$WORK/starts"
exec "$CONAN" "\$@"
SH
chmod +x "$WORK/agent"
write_config "$WORK/c.json" '{ "app": "nginx", "interval_ms": 100, "dump_dir": "@DUMPS@",
  "cpu": { "abs": 0, "window": 0 }, "memory": { "enable": false }, "heap": { "enable": false },
  "report": { "pyroscope": { "url": "http://127.0.0.1:9" }, "idle_exit_s": 10, "agent": "'"$WORK/agent"'" } }'

port=$(free_port)
nginx_conf "$port" 2
LD_PRELOAD="$LIBCONAN" CONAN_CONFIG="$WORK/c.json" "$nginx" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" \
    -e "$WORK/nginx/logs/error.log" 2>"$WORK/nginx.err" &
master=$!
wait_for 15 eval "curl -fs http://127.0.0.1:$port/ >/dev/null" || fail "nginx did not answer: $(cat "$WORK/nginx/logs/error.log")"
workers() { pgrep -P "$master" -f "nginx: worker process"; }
wait_for 15 eval '[ "$(workers | grep -c .)" = 2 ]' || fail "want 2 nginx workers, got: $(workers)"
wait_for 20 eval '[ -n "$(agents_of "$DUMPS")" ]' || fail "no conan agent within 20 s: $(cat "$DUMPS/.conan-agent.log" 2>/dev/null)"
agent=$(agents_of "$DUMPS")
mtime() { stat -c %Y "$DUMPS/.conan-agent.lock"; }
first=$(mtime)

# A whole check period of every process (master and workers) after the
# workers started: each looks at least once, and only ever finds the agent.
deadline=$((SECONDS + 6))
while [ $SECONDS -lt $deadline ]; do
    now=$(agents_of "$DUMPS")
    [ "$now" = "$agent" ] || fail "agents for $DUMPS: '$(echo $now)', want only $agent"
    curl -fs "http://127.0.0.1:$port/" >/dev/null || fail "a request failed"
    sleep 0.2
done
wait_for 10 eval '[ "$(mtime)" -gt "$first" ]' || fail "nobody marked $DUMPS in use after the agent started"
[ "$(grep -c . "$WORK/starts")" = 1 ] || fail "the agent was started $(grep -c . "$WORK/starts") times: $(cat "$WORK/starts")"
ppid=$(awk '/^PPid:/ { print $2 }' "/proc/$agent/status")
! { echo "$master"; workers; } | grep -qx "$ppid" || fail "the agent's parent $ppid is nginx"
! grep -q libconan "/proc/$agent/maps" || fail "libconan is mapped in the agent"

kill -QUIT "$master"
wait "$master"; status=$?
pid=$master master=""
[ $status -eq 0 ] || fail "nginx exited $status: $(tail -3 "$WORK/nginx/logs/error.log")"
! grep -q libconan "$WORK/nginx.err" || fail "libconan complained: $(cat "$WORK/nginx.err")"
note "one agent ($agent, parent $ppid) for nginx's master $pid and its two workers"
exit 0
