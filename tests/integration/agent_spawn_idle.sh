#!/usr/bin/env bash
# A spawned agent lives as long as its directory is used (src/agent_spawn.c,
# cli/agent.c): with report.idle_exit_s 10, the agent a host started leaves
# on its own once that host is gone (saying so in DIR/.conan-agent.log), and
# a second host started afterwards starts a new one.
. "$(dirname "$0")/lib.sh"

hosts=()
at_exit 'for p in "${hosts[@]}" $(agents_of "$DUMPS"); do kill "$p" 2>/dev/null; done'
write_config "$WORK/c.json" '{ "app": "host", "interval_ms": 100, "dump_dir": "@DUMPS@",
  "cpu": { "abs": 0, "window": 0 }, "memory": { "enable": false }, "heap": { "enable": false }, '"$(agent_report 10)"' }'

# start_host — the idle workload under the shim; its agent's pid in $agent.
start_host() {
    LD_PRELOAD="$LIBCONAN" CONAN_CONFIG="$WORK/c.json" "$WORKLOADS/idle" 600000 >/dev/null 2>"$WORK/host.err" &
    host=$!
    hosts+=("$host")
    wait_for 20 eval '[ -n "$(agents_of "$DUMPS")" ]' || fail "no conan agent within 20 s of host $host"
    agent=$(agents_of "$DUMPS")
    [ "$(printf '%s\n' "$agent" | grep -c .)" = 1 ] || fail "more than one agent: $agent"
}

start_host
first=$agent
kill "$host"; wait "$host" 2>/dev/null
# The agent looks every 5 s whether the lock's mtime is idle_exit_s old; the
# host's last mark may be up to 5 s older than its end.
wait_for 40 process_gone "$first" || fail "agent $first still runs 40 s after its host ended (idle_exit_s 10)"
grep -q "no process has used $DUMPS for [0-9]* s: exiting" "$DUMPS/.conan-agent.log" \
    || fail "the agent did not say why it left: $(cat "$DUMPS/.conan-agent.log")"
[ ! -s "$WORK/host.err" ] || fail "the host's stderr: $(cat "$WORK/host.err")"

start_host
[ "$agent" != "$first" ] || fail "the second host's agent has the first one's pid"
note "agents $first (left after its host) and $agent (the second host's)"
exit 0
