#!/usr/bin/env bash
# conan agent's webhooks against local receivers that hold each to its
# documented contract (tests/agent/webhook_receiver.py): a real heap dump
# reaches a Feishu bot (signed: the receiver checks the HMAC-SHA256 sign
# against the secret and the timestamp against its clock), a Slack incoming
# webhook and a JSON webhook, once each; the text names the host, app, pid,
# rule and value and links the dump under link_base; the JSON is the event
# plus host and link. A second run sends nothing again. Faults: a wrong Feishu
# secret (19021) or an unknown bot (19001) is one request and one clear log
# line naming the key to fix, the dump kept (the reporter pauses); Feishu's
# rate-limit code, Slack's 429 and a 500 are retried until delivered; a 400
# is dropped after one request.
source "$SOURCE_ROOT/tests/agent/lib.sh"
RECEIVER="$SOURCE_ROOT/tests/agent/webhook_receiver.py"
heap_dump hookapp
dump=$original
[ "$(dumps_of_kind heap | wc -l)" -eq 1 ] || fail "want one heap dump, got: $(dumps_of_kind heap)"

# start_receiver NAME MODE ARGS... — a receiver on a free port: sets PORT,
# logs to $WORK/NAME.{log,requests}, violations to $WORK/violations.
start_receiver() {
    local name=$1 mode=$2; shift 2
    "$PY" "$RECEIVER" --mode "$mode" --port-file "$WORK/$name.port" --log "$WORK/$name.log" \
        --requests "$WORK/$name.requests" --violations "$WORK/violations" "$@" 2>>"$WORK/receivers.err" &
    local pid=$!
    at_exit "kill $pid 2>/dev/null; wait $pid 2>/dev/null"
    wait_for 10 test -s "$WORK/$name.port" || fail "receiver $name did not start: $(cat "$WORK/receivers.err")"
    PORT=$(cat "$WORK/$name.port")
}
lines() { [ -f "$1" ] && wc -l < "$1" || echo 0; }
no_violations() {
    [ ! -s "$WORK/violations" ] || fail "the receivers saw contract violations: $(cat "$WORK/violations")"
}

echo "conan-test-secret" > "$WORK/feishu.secret"
echo "not-the-bot-secret" > "$WORK/wrong.secret"
start_receiver feishu feishu --secret-file "$WORK/feishu.secret"
feishu=$PORT
start_receiver slack slack
slack=$PORT
start_receiver json json
json=$PORT

LINK_BASE="http://dumps.example:6060/dumps/"
cat > "$WORK/agent.json" <<J
{ "app": "hookapp", "dump_dir": "$DUMPS", "report": { "spawn": false, "link_base": "$LINK_BASE",
  "webhooks": [
    { "url": "http://127.0.0.1:$feishu/open-apis/bot/v2/hook/token", "format": "feishu", "secret_file": "$WORK/feishu.secret" },
    { "url": "http://127.0.0.1:$slack/services/T0/B0/x", "format": "slack" },
    { "url": "http://127.0.0.1:$json/hook", "format": "json" } ] } }
J
"$CONAN" agent --once --timeout 20 --config "$WORK/agent.json" 2> "$WORK/agent.err" ||
    fail "conan agent --once failed: $(cat "$WORK/agent.err")"
no_violations
for name in feishu slack json; do
    [ "$(lines "$WORK/$name.log")" -eq 1 ] || fail "$name: want 1 accepted message, got $(lines "$WORK/$name.log")"
done

"$PY" - "$WORK" "$DUMPS/events.jsonl" "$DUMPS/$dump" "$LINK_BASE$dump" <<'PY' || exit 1
import json, socket, sys
work, events, path, link = sys.argv[1:]
event = next(json.loads(l) for l in open(events) if json.loads(l)["file"] == path)
host = socket.gethostname()
def body(name):
    return json.loads(open(f"{work}/{name}.log").readline())["body"]
feishu, slack, js = body("feishu"), body("slack"), body("json")
text = feishu["content"]["text"]
if slack["text"] != text:
    sys.exit(f"FAIL: slack and feishu texts differ:\n{slack['text']!r}\n{text!r}")
want = [host, "hookapp", f"pid {event['pid']}", "heap", f"{event['value']:.3g} MiB", ">= abs 24 MiB", link,
        f"{event['samples']} samples"]
missing = [w for w in want if w not in text]
if missing:
    sys.exit(f"FAIL: the text lacks {missing}:\n{text}")
expect = dict(event, host=host, link=link)
if js != expect:
    sys.exit(f"FAIL: the json webhook's body is not the event plus host and link:\n{js}\nwant\n{expect}")
PY

# Delivered once: a second run sends nothing (the state file says so, under
# the format and a digest of the url, never the url).
feishu_id() { printf 'webhook feishu sha256:%s' "$(printf %s "$1" | sha256sum | cut -c1-32)"; }
grep -qF "$(printf 'sent\t%s\t%s' "$(feishu_id "http://127.0.0.1:$feishu/open-apis/bot/v2/hook/token")" "$dump")" \
    "$DUMPS/.conan-agent.state" || fail "the state file does not record the feishu delivery: $(cat "$DUMPS/.conan-agent.state")"
! grep -q 'open-apis' "$DUMPS/.conan-agent.state" || fail "the state file holds a webhook's url"
"$CONAN" agent --once --timeout 20 --config "$WORK/agent.json" 2> "$WORK/agent2.err" ||
    fail "second conan agent --once failed: $(cat "$WORK/agent2.err")"
for name in feishu slack json; do
    [ "$(lines "$WORK/$name.requests")" -eq 1 ] || fail "$name: sent again on the second run"
done

# A bot that refuses itself, whatever the message: Feishu's 19021 (a wrong
# secret) and 19001 (no such bot, the url's token). Each is one request and
# one line naming what to fix in the config; the dump is not dropped (it waits
# for the fix) and --once ends, exit 1, once every delivery left is paused.
start_receiver badsign feishu --secret-file "$WORK/feishu.secret"
badsign=$PORT
start_receiver badbot feishu --fail-first 1000 --fail-code 19001
badbot=$PORT
cat > "$WORK/refused.json" <<J
{ "app": "hookapp", "dump_dir": "$DUMPS", "report": { "spawn": false, "webhooks": [
    { "url": "http://127.0.0.1:$badsign/hook", "format": "feishu", "secret_file": "$WORK/wrong.secret" },
    { "url": "http://127.0.0.1:$badbot/hook", "format": "feishu" } ] } }
J
"$CONAN" agent --once --timeout 10 --config "$WORK/refused.json" 2> "$WORK/refused.err"
status=$?
[ $status -eq 1 ] || fail "conan agent --once exited $status, want 1 (nothing delivered): $(cat "$WORK/refused.err")"
no_violations
grep -q '"code": 19021' "$WORK/badsign.requests" || fail "the receiver did not refuse the signature"
grep -q '"code": 19001' "$WORK/badbot.requests" || fail "the receiver did not refuse the bot"
grep -q 'webhook\[0\] feishu.*Feishu refused the signature (code 19021.*report.webhooks\[0\].secret_file must' \
    "$WORK/refused.err" || fail "no clear line about the refused signature: $(cat "$WORK/refused.err")"
grep -q 'webhook\[1\] feishu.*Feishu knows no such bot (code 19001.*report.webhooks\[1\].url must' \
    "$WORK/refused.err" || fail "no clear line about the unknown bot: $(cat "$WORK/refused.err")"
for code in 19021 19001; do
    [ "$(grep -c "code $code" "$WORK/refused.err")" -eq 1 ] ||
        fail "the refusal $code was not logged once: $(cat "$WORK/refused.err")"
done
for url in "http://127.0.0.1:$badsign/hook" "http://127.0.0.1:$badbot/hook"; do
    ! grep -qF "$(printf 'dropped\t%s\t' "$(feishu_id "$url")")" "$DUMPS/.conan-agent.state" ||
        fail "a refusing bot's dump was dropped instead of kept for later: $(cat "$DUMPS/.conan-agent.state")"
done
for name in badsign badbot; do
    [ "$(lines "$WORK/$name.requests")" -eq 1 ] ||
        fail "$name: $(lines "$WORK/$name.requests") requests, want 1 (the reporter pauses)"
done
! grep -q 'after the timeout' "$WORK/refused.err" ||
    fail "--once waited for its timeout with every delivery paused: $(cat "$WORK/refused.err")"

# Faults, one agent run with a webhook each (they are independent):
# - retried until delivered: Feishu's rate-limit code, Slack's 429 (Retry-After), a 500;
# - refused for good: a 400 is one request, logged with the server's message.
start_receiver ratelimit feishu --fail-first 1 --fail-code 11232
ratelimit=$PORT
start_receiver slack429 slack --fail-first 2 --fail-status 429
slack429=$PORT
start_receiver json500 json --fail-first 1 --fail-status 500
json500=$PORT
start_receiver json400 json --fail-first 5 --fail-status 400
json400=$PORT
cat > "$WORK/faults.json" <<J
{ "app": "hookapp", "dump_dir": "$DUMPS", "report": { "spawn": false, "webhooks": [
    { "url": "http://127.0.0.1:$ratelimit/hook", "format": "feishu" },
    { "url": "http://127.0.0.1:$slack429/hook", "format": "slack" },
    { "url": "http://127.0.0.1:$json500/hook", "format": "json" },
    { "url": "http://127.0.0.1:$json400/hook", "format": "json" } ] } }
J
"$CONAN" agent --once --timeout 20 --config "$WORK/faults.json" 2> "$WORK/faults.err"
status=$?
[ $status -eq 1 ] ||
    fail "conan agent --once exited $status, want 1 (a delivery refused for good): $(cat "$WORK/faults.err")"
no_violations
for name_n in ratelimit:2 slack429:3 json500:2; do
    name=${name_n%:*} n=${name_n#*:}
    [ "$(lines "$WORK/$name.requests")" -eq "$n" ] && [ "$(lines "$WORK/$name.log")" -eq 1 ] ||
        fail "$name: $(lines "$WORK/$name.requests") requests and $(lines "$WORK/$name.log") accepted, want $n and 1"
done
grep -q 'webhook\[0\] feishu.*rate limiting (code 11232' "$WORK/faults.err" ||
    fail "the rate limit was not logged: $(cat "$WORK/faults.err")"
[ "$(lines "$WORK/json400.requests")" -eq 1 ] || fail "a 400 was retried: $(lines "$WORK/json400.requests") requests"
grep -q 'webhook\[3\] json.*HTTP 400: test fault 400' "$WORK/faults.err" ||
    fail "the 400 was not logged: $(cat "$WORK/faults.err")"
