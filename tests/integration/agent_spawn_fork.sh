#!/usr/bin/env bash
# A child forked while the monitor holds the lock file open does not keep it
# (src/agent_spawn.c, src/fork.c): the child would share the open file, and
# with it the flock, and a long-lived child would keep the directory locked
# after the agent has gone, so that no agent ever starts again. The window is
# held open: DIR/.conan-agent.log is a FIFO, so the agent, between clone and
# exec, waits in its open for a reader while the monitor waits for it with
# the lock file open. The host, bash under the shim (follow_fork false: the
# child runs no check of its own), forks a subshell then; the subshell has no
# descriptor for the lock file, while the host still has its own.
. "$(dirname "$0")/lib.sh"
skip_forking_children_if_sanitized

host="" child="" reader=""
# cleanup — the FIFO is opened once, so that an agent still waiting for a
# reader (with its intermediate waiting for it) goes on to start, and is ended.
cleanup() {
    [ -p "$DUMPS/.conan-agent.log" ] && : 9<>"$DUMPS/.conan-agent.log"
    for p in $reader $child $host; do kill "$p" 2>/dev/null; done
    wait_for 5 eval '[ -n "$(agents_of "$DUMPS")" ]'
    for p in $(agents_of "$DUMPS"); do kill "$p" 2>/dev/null; done
}
at_exit cleanup
write_config "$WORK/c.json" '{ "app": "host", "interval_ms": 100, "dump_dir": "@DUMPS@", "follow_fork": false,
  "cpu": { "abs": 0, "window": 0 }, "memory": { "enable": false }, "heap": { "enable": false }, '"$(agent_report 10)"' }'
mkdir -p "$DUMPS"
chmod 700 "$DUMPS"
mkfifo "$DUMPS/.conan-agent.log" "$WORK/go" "$WORK/end"
lock="$DUMPS/.conan-agent.lock"

LD_PRELOAD="$LIBCONAN" CONAN_CONFIG="$WORK/c.json" bash -c '
    read -r _ <"$1"
    ( echo $BASHPID >"$2"; read -r _ <"$3" )' host "$WORK/go" "$WORK/child" "$WORK/end" 2>"$WORK/host.err" &
host=$!
# has_lock PID — PID has a descriptor for the lock file.
has_lock() { for fd in /proc/"$1"/fd/*; do [ "$(readlink "$fd")" = "$lock" ] && return 0; done; return 1; }
wait_for 20 has_lock "$host" || fail "the host never opened $lock"

echo go >"$WORK/go"
wait_for 10 eval '[ -s "$WORK/child" ]' || fail "the host forked no subshell: $(cat "$WORK/host.err")"
child=$(cat "$WORK/child")
has_lock "$host" || fail "the host closed the lock file before its child was checked: the window was missed"
! has_lock "$child" || fail "the forked child $child has the lock file open: $(ls -l "/proc/$child/fd/" | tail -n +2)"

# Let the agent go on: it starts, with the lock.
cat "$DUMPS/.conan-agent.log" >"$WORK/agent.log" &
reader=$!
wait_for 20 eval '[ -n "$(agents_of "$DUMPS")" ]' || fail "no agent after the log was opened: $(cat "$WORK/agent.log")"
agent=$(agents_of "$DUMPS")
! has_lock "$child" || fail "the forked child $child has the lock file open"
[ "$(cat "$lock")" = "$agent" ] || fail "the lock names $(cat "$lock"), not the agent $agent"
echo end >"$WORK/end"
note "host $host kept the lock file open while its child $child, forked then, had none; agent $agent"
exit 0
