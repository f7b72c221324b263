#!/usr/bin/env bash
# One agent for PostgreSQL and every process it forks (src/agent_spawn.c):
# Debian's postgres, initialized into the scratch directory and run as the
# postgres user (it refuses root) under the shim with a reporter configured;
# its background workers and a backend per psql connection are forked, each
# with a monitor of its own. report.agent is a wrapper that records each start
# and execs the real `conan agent`: after five connections and a whole check
# period (5 s with idle_exit_s 10), exactly one start and exactly one agent
# process for the directory, running as postgres, its parent not a postgres
# process; every query answered; a fast shutdown exits 0.
. "$(dirname "$0")/lib.sh"
skip_forking_children_if_sanitized
[ "$(id -u)" -eq 0 ] || skip "needs root to run postgres as the postgres user"
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$bin" ] && [ -x "$bin/postgres" ] && [ -x "$bin/initdb" ] || skip "postgresql is not installed; scripts/setup.sh installs it"
command -v psql >/dev/null || skip "psql (postgresql-client) is not installed"
id postgres >/dev/null 2>&1 || skip "no postgres user"

master=""
at_exit '[ -n "$master" ] && kill -INT "$master" 2>/dev/null && wait_for 10 process_gone "$master"; for p in $(agents_of "$PG/dumps"); do kill "$p" 2>/dev/null; done'
as_pg() { runuser -u postgres -- "$@"; }

# The scratch directory is root's (0700): postgres gets a directory of its own in it.
chmod 711 "$WORK"
PG="$WORK/pg"
mkdir -p "$PG/dumps" "$PG/run"
chmod 700 "$PG/dumps"
cat >"$PG/agent" <<SH
#!/bin/sh
echo \$\$ >>"$PG/starts"
exec "$CONAN" "\$@"
SH
chmod 755 "$PG/agent"
cat >"$PG/c.json" <<JSON
{ "app": "postgres", "interval_ms": 100, "dump_dir": "$PG/dumps",
  "cpu": { "abs": 0, "window": 0 }, "memory": { "enable": false }, "heap": { "enable": false },
  "report": { "pyroscope": { "url": "http://127.0.0.1:9" }, "idle_exit_s": 10, "agent": "$PG/agent" } }
JSON
chown -R postgres: "$PG"
as_pg "$bin/initdb" -D "$PG/data" --auth=trust -U postgres >"$WORK/initdb.log" 2>&1 || fail "initdb failed: $(tail -5 "$WORK/initdb.log")"

port=$(free_port)
runuser -u postgres -- env LD_PRELOAD="$LIBCONAN" CONAN_CONFIG="$PG/c.json" \
    "$bin/postgres" -D "$PG/data" -p "$port" -k "$PG/run" -c listen_addresses= >"$WORK/postgres.log" 2>&1 &
runner=$!
query() { as_pg psql -X -q -t -A -h "$PG/run" -p "$port" -d postgres -c "$1" 2>>"$WORK/psql.err"; }
wait_for 30 eval '[ "$(query "select 1")" = 1 ]' || fail "postgres did not answer: $(tail -5 "$WORK/postgres.log")"
master=$(head -1 "$PG/data/postmaster.pid")
postgres_pids() { echo "$master"; pgrep -P "$master"; }
wait_for 20 eval '[ -n "$(agents_of "$PG/dumps")" ]' || fail "no conan agent within 20 s: $(cat "$PG/dumps/.conan-agent.log" 2>/dev/null)"
agent=$(agents_of "$PG/dumps")

# Backends forked for connections, one after another and two at once, while
# every process (postmaster, its workers, the backends) looks at least once.
deadline=$((SECONDS + 6))
n=0
while [ $SECONDS -lt $deadline ] || [ $n -lt 5 ]; do
    n=$((n + 1))
    [ "$(query "select $n")" = "$n" ] || fail "query $n failed: $(cat "$WORK/psql.err")"
    [ $n -ne 3 ] || { query "select pg_sleep(1)" >/dev/null & query "select pg_sleep(1)" >/dev/null; wait $!; }
    now=$(agents_of "$PG/dumps")
    [ "$now" = "$agent" ] || fail "agents for $PG/dumps: '$(echo $now)', want only $agent"
    sleep 0.2
done
[ "$(grep -c . "$PG/starts")" = 1 ] || fail "the agent was started $(grep -c . "$PG/starts") times: $(cat "$PG/starts")"
ppid=$(awk '/^PPid:/ { print $2 }' "/proc/$agent/status")
! postgres_pids | grep -qx "$ppid" || fail "the agent's parent $ppid is a postgres process"
[ "$(stat -c %U "/proc/$agent")" = postgres ] || fail "the agent runs as $(stat -c %U "/proc/$agent")"
! grep -q libconan "/proc/$agent/maps" || fail "libconan is mapped in the agent"
processes=$(postgres_pids | grep -c .)

kill -INT "$master"
wait "$runner"; status=$?
pid=$master master=""
[ $status -eq 0 ] || fail "postgres exited $status: $(tail -5 "$WORK/postgres.log")"
! grep -q libconan "$WORK/postgres.log" || fail "libconan complained: $(grep libconan "$WORK/postgres.log")"
note "one agent ($agent, parent $ppid) for postmaster $pid, its $((processes - 1)) children and $n connections"
exit 0
