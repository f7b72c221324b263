#!/usr/bin/env bash
# conan agent's report.exec: the program runs once per dump with the event
# (plus host and link, as the json webhook posts it) on stdin and CONAN_DUMP,
# CONAN_KIND, CONAN_PID, CONAN_APP in its environment; exit 0 is delivered and
# not run again. A non-zero exit is retried, logged with its status and its
# last line of output; a program that hangs is killed with its whole process
# group after report.exec.timeout_s and retried; one that never reads stdin
# is fine; one that writes without a pause is still killed at its timeout; it
# has no descriptor but 0, 1 and 2 (none of the agent's sockets); a command
# that cannot run stops the agent at start; the agent leaves no zombie behind.
source "$SOURCE_ROOT/tests/agent/lib.sh"
heap_dump execapp
dump=$original

# agent_config NAME COMMAND TIMEOUT — a config whose report.exec is COMMAND.
agent_config() {
    cat > "$WORK/$1.json" <<J
{ "app": "execapp", "dump_dir": "$DUMPS", "report": { "spawn": false, "link_base": "http://h:6060/dumps",
  "exec": { "command": "$2", "timeout_s": $3 } } }
J
}
# program NAME BODY — an executable script $WORK/NAME (the agent runs it without a shell; its #! names one).
program() {
    printf '#!/bin/sh\n%s\n' "$2" > "$WORK/$1"
    chmod +x "$WORK/$1"
}
runs() { [ -f "$WORK/$1.runs" ] && wc -l < "$WORK/$1.runs" || echo 0; }

# Delivered: the event on stdin, the variables in the environment; run once.
program ok "echo run >> $WORK/ok.runs
cat > $WORK/ok.stdin
env | grep '^CONAN_' | sort > $WORK/ok.env
echo 'handled it'"
agent_config ok "$WORK/ok" 10
"$CONAN" agent --once --timeout 20 --config "$WORK/ok.json" 2> "$WORK/ok.err" || fail "agent failed: $(cat "$WORK/ok.err")"
[ "$(runs ok)" -eq 1 ] || fail "the program ran $(runs ok) times, want 1"
grep -q 'exec: handled it' "$WORK/ok.err" || fail "the program's output is not in the log: $(cat "$WORK/ok.err")"
"$PY" - "$WORK/ok.stdin" "$WORK/ok.env" "$DUMPS/events.jsonl" "$DUMPS/$dump" <<'PY' || exit 1
import json, socket, sys
stdin, env, events, path = sys.argv[1:]
event = next(json.loads(l) for l in open(events) if json.loads(l)["file"] == path)
got = json.load(open(stdin))
want = dict(event, host=socket.gethostname(), link="http://h:6060/dumps/" + path.rsplit("/", 1)[1])
if got != want:
    sys.exit(f"FAIL: stdin is not the event plus host and link:\n{got}\nwant\n{want}")
env = dict(l.rstrip("\n").split("=", 1) for l in open(env))
for k, v in {"CONAN_DUMP": path, "CONAN_KIND": "heap", "CONAN_PID": str(event["pid"]), "CONAN_APP": "execapp"}.items():
    if env.get(k) != v:
        sys.exit(f"FAIL: {k}={env.get(k)!r}, want {v!r} (environment: {env})")
PY
"$CONAN" agent --once --timeout 20 --config "$WORK/ok.json" 2> "$WORK/ok2.err" || fail "second run failed: $(cat "$WORK/ok2.err")"
[ "$(runs ok)" -eq 1 ] || fail "a delivered dump was given to the program again"

# Fails once (status 3, a message on stderr), then succeeds: retried, the status and message logged.
program flaky "echo run >> $WORK/flaky.runs
if [ \$(wc -l < $WORK/flaky.runs) -eq 1 ]; then echo 'database is down' >&2; exit 3; fi"
agent_config flaky "$WORK/flaky" 10
"$CONAN" agent --once --timeout 20 --config "$WORK/flaky.json" 2> "$WORK/flaky.err" || fail "agent failed: $(cat "$WORK/flaky.err")"
[ "$(runs flaky)" -eq 2 ] || fail "the failing program ran $(runs flaky) times, want 2"
grep -q 'exited with status 3: database is down' "$WORK/flaky.err" || fail "the failure was not logged: $(cat "$WORK/flaky.err")"

# Hangs the first time, with a child of its own in the background: both are
# killed after timeout_s, then the retry succeeds.
program hang "echo run >> $WORK/hang.runs
if [ \$(wc -l < $WORK/hang.runs) -eq 1 ]; then
    sleep 300 & echo \$! > $WORK/hang.child
    exec sleep 300
fi"
agent_config hang "$WORK/hang" 2
"$CONAN" agent --once --timeout 20 --config "$WORK/hang.json" 2> "$WORK/hang.err" || fail "agent failed: $(cat "$WORK/hang.err")"
[ "$(runs hang)" -eq 2 ] || fail "the hanging program ran $(runs hang) times, want 2"
grep -q 'did not finish within report.exec.timeout_s (2 s): killed' "$WORK/hang.err" ||
    fail "the timeout was not logged: $(cat "$WORK/hang.err")"
child=$(cat "$WORK/hang.child") || fail "the hanging program did not start its background child"
gone() { ! kill -0 "$child" 2>/dev/null; }
wait_for 5 gone || { kill "$child"; fail "the hanging program's background child $child outlived the kill"; }

# Never reads its stdin: delivered all the same, and the agent lives on.
program deaf "exec 0<&-
echo run >> $WORK/deaf.runs"
agent_config deaf "$WORK/deaf" 10
"$CONAN" agent --once --timeout 20 --config "$WORK/deaf.json" 2> "$WORK/deaf.err" || fail "agent failed: $(cat "$WORK/deaf.err")"
[ "$(runs deaf)" -eq 1 ] || fail "the program that ignores stdin ran $(runs deaf) times, want 1"

# Only stdin, stdout and stderr: the program inherits none of the agent's
# other descriptors, above all no keep-alive socket of another reporter's
# libcurl (a json webhook to a local receiver, delivered before the program
# is started for the run that lists its descriptors: it fails until a run of
# it has seen the webhook's message arrived, so the next one started after).
"$PY" "$SOURCE_ROOT/tests/agent/webhook_receiver.py" --mode json --port-file "$WORK/hook.port" \
    --log "$WORK/hook.log" --violations "$WORK/hook.violations" 2>"$WORK/hook.err" &
hook=$!
at_exit "kill $hook 2>/dev/null; wait $hook 2>/dev/null"
wait_for 10 test -s "$WORK/hook.port" || fail "the webhook receiver did not start: $(cat "$WORK/hook.err")"
cat > "$WORK/fds" <<PROG
#!$PY
import os, sys
if not os.path.exists("$WORK/hook.log"):
    sys.exit("the webhook has not delivered yet")
if not os.path.exists("$WORK/fds.seen"):
    open("$WORK/fds.seen", "w").close()
    sys.exit("the webhook has delivered: the next run lists its descriptors")
listed = [int(fd) for fd in os.listdir("/proc/self/fd")]
def is_open(fd):
    try:
        return os.readlink("/proc/self/fd/%d" % fd)
    except OSError:
        return None  # the listing's own descriptor, closed by now
opened = {fd: is_open(fd) for fd in listed if is_open(fd) is not None}
with open("$WORK/fds.out", "w") as f:
    f.write(" ".join("%d:%s" % kv for kv in sorted(opened.items())) + "\n")
PROG
chmod +x "$WORK/fds"
cat > "$WORK/fds.json" <<J
{ "app": "execapp", "dump_dir": "$DUMPS", "report": { "spawn": false,
  "webhooks": [ { "url": "http://127.0.0.1:$(cat "$WORK/hook.port")/hook", "format": "json" } ],
  "exec": { "command": "$WORK/fds", "timeout_s": 10 } } }
J
"$CONAN" agent --once --timeout 20 --config "$WORK/fds.json" 2> "$WORK/fds.err" || fail "agent failed: $(cat "$WORK/fds.err")"
[ -s "$WORK/fds.out" ] || fail "the program did not list its descriptors: $(cat "$WORK/fds.err")"
fds=$(tr ' ' '\n' < "$WORK/fds.out" | cut -d: -f1 | tr '\n' ' ')
[ "$fds" = "0 1 2 " ] || fail "the program has descriptors beyond 0, 1 and 2: $(cat "$WORK/fds.out")"

# Writes without a pause the first time: its output is read in bounded turns,
# so the timeout still kills it; at most EXEC_LINES_MAX (20) lines are logged.
program chatty "echo run >> $WORK/chatty.runs
if [ \$(wc -l < $WORK/chatty.runs) -eq 1 ]; then exec yes 'chatty output'; fi"
agent_config chatty "$WORK/chatty" 2
"$CONAN" agent --once --timeout 20 --config "$WORK/chatty.json" 2> "$WORK/chatty.err" ||
    fail "agent failed: $(tail -5 "$WORK/chatty.err")"
[ "$(runs chatty)" -eq 2 ] || fail "the chatty program ran $(runs chatty) times, want 2"
grep -q 'did not finish within report.exec.timeout_s (2 s): killed' "$WORK/chatty.err" ||
    fail "the nonstop writer was not killed at its timeout: $(tail -5 "$WORK/chatty.err")"
[ "$(grep -c 'exec: chatty output' "$WORK/chatty.err")" -eq 20 ] ||
    fail "$(grep -c 'exec: chatty output' "$WORK/chatty.err") lines of its output logged, want 20"

# A command that cannot run is refused at start, naming the key.
agent_config missing "$WORK/no-such-program" 10
"$CONAN" agent --once --config "$WORK/missing.json" 2> "$WORK/missing.err" && fail "the agent started with a missing program"
grep -q "report.exec.command: $WORK/no-such-program: No such file or directory" "$WORK/missing.err" ||
    fail "no clear message for a missing program: $(cat "$WORK/missing.err")"
printf 'not a program\n' > "$WORK/plain"
agent_config plain "$WORK/plain" 10
"$CONAN" agent --once --config "$WORK/plain.json" 2> "$WORK/plain.err" && fail "the agent started with a non-executable program"
grep -q "report.exec.command: $WORK/plain: not an executable file" "$WORK/plain.err" ||
    fail "no clear message for a non-executable program: $(cat "$WORK/plain.err")"

# No zombies: a running agent that has run the program has no dead child left.
rm -f "$DUMPS/.conan-agent.state"
program quick "echo run >> $WORK/quick.runs"
agent_config quick "$WORK/quick" 10
"$CONAN" agent --config "$WORK/quick.json" 2> "$WORK/quick.err" &
agent=$!
at_exit "kill $agent 2>/dev/null; wait $agent 2>/dev/null"
ran() { [ "$(runs quick)" -ge 1 ] && grep -q "^sent.*$WORK/quick" "$DUMPS/.conan-agent.state" 2>/dev/null; }
wait_for 20 ran || fail "the running agent did not deliver: $(cat "$WORK/quick.err")"
zombies=$(ps -o pid=,stat= --ppid "$agent" | awk '$2 ~ /^Z/' || true)
[ -z "$zombies" ] || fail "zombie children of the agent: $zombies"
kill "$agent"
wait "$agent" 2>/dev/null
true
