#!/usr/bin/env bash
# report.spawn seen from both sides (src/agent_spawn.c).
#  a. The host does not notice: spawn_host run under the shim with a reporter
#     (spawn on by default) prints what it prints under the shim without one,
#     at a moment after the agent has started and a later check has marked
#     the directory in use (the lock file's mtime moved): the same stdout (its
#     own child's status, waitpid(-1) and wait(-1) failing with ECHILD, one
#     SIGCHLD, its open descriptors and its thread count), the same exit
#     status, and no libconan line on stderr.
#  b. The agent is the real `conan agent`, found beside libconan (build tree:
#     cli/conan; report.agent names it for the sanitized shims), started as `conan agent --spawned --config FILE --dir DIR`:
#     not the host's child, not in its session, no libconan mapped, no
#     libconan in its LD_PRELOAD, stdin and stdout /dev/null, stderr
#     DIR/.conan-agent.log.
. "$(dirname "$0")/lib.sh"

agent=""
at_exit '[ -n "$agent" ] && kill "$agent" 2>/dev/null'
quiet='"interval_ms": 100, "cpu": { "abs": 0, "window": 0 }, "memory": { "enable": false }, "heap": { "enable": false }, "stuck": { "enable": false }'
write_config "$WORK/plain.json" '{ "app": "host", '"$quiet"', "dump_dir": "'"$WORK/plain"'" }'
write_config "$WORK/spawn.json" '{ "app": "host", '"$quiet"', "dump_dir": "'"$WORK/spawn"'", '"$(agent_report 10)"' }'
mkfifo "$WORK/go"

# run_host CONFIG NAME — spawn_host under the shim; once it waits on the FIFO,
# $ready (a command) decides when to let it go. Output in $WORK/NAME.out/.err.
run_host() {
    LD_PRELOAD="$LIBCONAN" CONAN_CONFIG="$1" "$WORKLOADS/spawn_host" "$WORK/go" >"$WORK/host.out" 2>"$WORK/host.err" &
    host=$!
    $ready || { kill "$host"; fail "$2: $why"; }
    printf x >"$WORK/go"
    wait "$host"
    echo $? >"$WORK/$2.status"
    mv "$WORK/host.out" "$WORK/$2.out"
    mv "$WORK/host.err" "$WORK/$2.err"
}

ready=true
run_host "$WORK/plain.json" plain
[ "$(cat "$WORK/plain.status")" = 3 ] || fail "spawn_host without reporters exited $(cat "$WORK/plain.status"): $(cat "$WORK/plain.err")"
[ ! -e "$WORK/plain/.conan-agent.lock" ] || fail "a lock file without reporters"

lock="$WORK/spawn/.conan-agent.lock"
mtime() { stat -c %Y "$lock" 2>/dev/null || echo 0; }
agent_and_mark() {
    why="no conan agent for $WORK/spawn within 20 s"
    wait_for 20 eval '[ -n "$(agents_of "$WORK/spawn")" ]' || return 1
    agent=$(agents_of "$WORK/spawn")
    [ "$(printf '%s\n' "$agent" | grep -c .)" = 1 ] || { why="more than one agent: $agent"; return 1; }
    # The agent set the mtime as it took the lock; a check of the host's
    # (every 5 s with idle_exit_s 10) sets it again. Whole seconds.
    local first
    first=$(mtime)
    why="the lock file's mtime stayed at $first (the host never marked the directory in use)"
    wait_for 20 eval '[ "$(mtime)" -gt "$first" ]'
}
ready=agent_and_mark
run_host "$WORK/spawn.json" spawn
note "with spawn: $(tr '\n' ';' <"$WORK/spawn.out")"

# a. the host
[ "$(cat "$WORK/spawn.status")" = 3 ] || fail "spawn_host with spawn on exited $(cat "$WORK/spawn.status")"
# A descriptor on /proc/PID/... is the monitor reading its own process at
# that instant (its threads for the recorder's rescan, its maps as the
# recorder starts), open for microseconds in either run: not compared.
for run in plain spawn; do grep -vE '^fd [0-9]+ /proc/[0-9]+/' "$WORK/$run.out" > "$WORK/$run.view"; done
cmp -s "$WORK/plain.view" "$WORK/spawn.view" || { diff "$WORK/plain.view" "$WORK/spawn.view" >&2; fail "the host's view changed with spawn on"; }
grep -qx 'waitpid(-1) -1 No child processes' "$WORK/spawn.out" && grep -qx 'wait(-1) -1 No child processes' "$WORK/spawn.out" \
    && grep -qx 'sigchld 1' "$WORK/spawn.out" || fail "the host saw a child it did not make: $(cat "$WORK/spawn.out")"
[ ! -s "$WORK/spawn.err" ] && [ ! -s "$WORK/plain.err" ] || fail "stderr: $(cat "$WORK/plain.err" "$WORK/spawn.err")"

# b. the agent
[ -r "/proc/$agent/cmdline" ] || fail "the agent $agent is gone"
cmdline=$(tr '\0' ' ' <"/proc/$agent/cmdline")
[ "$cmdline" = "$AGENT_PROGRAM agent --spawned --config $WORK/spawn.json --dir $WORK/spawn --lock-fd 3 " ] \
    || fail "agent command line: $cmdline"
ppid=$(awk '/^PPid:/ { print $2 }' "/proc/$agent/status")
[ "$ppid" != "$host" ] && [ "$ppid" != $$ ] || fail "the agent's parent is $ppid"
sid() { ps -o sid= -p "$1" | tr -d ' '; }
[ "$(sid "$agent")" != "$(sid $$)" ] || fail "the agent is in the host's session"
! grep -q libconan "/proc/$agent/maps" || fail "libconan is mapped in the agent: $(grep libconan "/proc/$agent/maps" | head -3)"
! tr '\0' '\n' <"/proc/$agent/environ" | grep '^LD_PRELOAD=' | grep -q libconan || fail "the agent's LD_PRELOAD names libconan"
tr '\0' '\n' <"/proc/$agent/environ" | grep -qx "CONAN_CONFIG=$WORK/spawn.json" || fail "the agent lost the host's environment"
[ "$(readlink "/proc/$agent/fd/0")" = /dev/null ] && [ "$(readlink "/proc/$agent/fd/1")" = /dev/null ] \
    && [ "$(readlink "/proc/$agent/fd/2")" = "$WORK/spawn/.conan-agent.log" ] \
    || fail "the agent's descriptors: $(ls -l "/proc/$agent/fd/" | tail -n +2)"
[ "$(cat "$lock")" = "$agent" ] || fail "the lock names $(cat "$lock"), not the agent $agent"
note "agent $agent, parent $ppid: $cmdline"
exit 0
