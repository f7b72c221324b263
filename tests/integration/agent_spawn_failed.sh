#!/usr/bin/env bash
# An agent that cannot start is not started again at every check
# (src/agent_spawn.c, cli/agent.c): report.exec.command names a program that
# does not exist, which the agent refuses at start. report.agent is a wrapper
# that records each start and execs the real `conan agent`. With idle_exit_s
# 10 (a check every 5 s), a host that runs ~12 s after the failure, and a
# second host started after it (which has never spawned anything itself), the
# agent is started once: it leaves "failed <unix time>" in the lock file, its
# log says why once, and each host says once on stderr that none is started.
. "$(dirname "$0")/lib.sh"

hosts=()
at_exit 'for p in "${hosts[@]}" $(agents_of "$DUMPS"); do kill "$p" 2>/dev/null; done'
# Under the sanitized passes the agent's LD_PRELOAD still names the
# sanitizer's runtime: /bin/sh crashes with libtsan preloaded, and this
# unsanitized agent, leaving with an error, hangs in exit() with libasan
# preloaded (libp11-kit's destructor waits for glibc's setlocale lock). The
# wrapper runs without it.
cat >"$WORK/agent" <<SH
#!/usr/bin/env -S -u LD_PRELOAD /bin/sh
echo \$\$ >>"$WORK/starts"
exec "$AGENT_PROGRAM" "\$@"
SH
chmod +x "$WORK/agent"
missing="$WORK/no-such-program"
write_config "$WORK/c.json" '{ "app": "host", "interval_ms": 100, "dump_dir": "@DUMPS@",
  "cpu": { "abs": 0, "window": 0 }, "memory": { "enable": false }, "heap": { "enable": false },
  "report": { "exec": { "command": "'"$missing"'" }, "idle_exit_s": 10, "agent": "'"$WORK/agent"'" } }'
lock="$DUMPS/.conan-agent.lock"

# start_host N — the idle workload under the shim, stderr in $WORK/hostN.err.
start_host() {
    LD_PRELOAD="$LIBCONAN" CONAN_CONFIG="$WORK/c.json" "$WORKLOADS/idle" 600000 >/dev/null 2>"$WORK/host$1.err" &
    hosts+=($!)
}

start_host 1
wait_for 20 eval 'grep -q "^failed [0-9]*$" "$lock" 2>/dev/null' \
    || fail "no failure recorded in the lock file within 20 s: '$(cat "$lock" 2>/dev/null)', log: $(cat "$DUMPS/.conan-agent.log" 2>/dev/null)"
start_host 2
# Two more checks of the first host, three of the second (one at its start).
sleep 12
for h in "${hosts[@]}"; do [ -d "/proc/$h" ] || fail "host $h ended"; done

starts=$(grep -c . "$WORK/starts")
[ "$starts" = 1 ] || fail "the agent was started $starts times: $(cat "$WORK/starts"); log: $(cat "$DUMPS/.conan-agent.log")"
[ -z "$(agents_of "$DUMPS")" ] || fail "an agent runs: $(agents_of "$DUMPS")"
grep -q "^failed [0-9]*$" "$lock" || fail "the lock file no longer records the failure: $(cat "$lock")"
refused=$(grep -c "report.exec.command: $missing" "$DUMPS/.conan-agent.log")
[ "$refused" = 1 ] || fail "the log has the refusal $refused times: $(cat "$DUMPS/.conan-agent.log")"
grep -q "start no agent for $DUMPS for the next 10 min" "$DUMPS/.conan-agent.log" \
    || fail "the log does not say that no agent is started for a while: $(cat "$DUMPS/.conan-agent.log")"
for n in 1 2; do
    [ "$(grep -c . "$WORK/host$n.err")" = 1 ] && grep -q "conan agent for $DUMPS failed at start" "$WORK/host$n.err" \
        || fail "host $n's stderr, want one line saying the agent failed at start: $(cat "$WORK/host$n.err")"
done
note "one start for two hosts over ~12 s; host 2 said: $(cat "$WORK/host2.err")"
exit 0
