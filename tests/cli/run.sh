#!/usr/bin/env bash
# conan run: CMD runs under this build's libconan with the config given; its
# exit status, signal and stdout pass through unchanged; --set changes the
# effective config through a private temporary file that is gone afterwards;
# a config libconan would refuse stops everything before CMD starts.
. "$SOURCE_ROOT/tests/integration/lib.sh"
: "${CONAN:?CONAN must point at the conan tool}"
mkdir -p "$DUMPS" "$WORK/tmp"
export TMPDIR="$WORK/tmp" # where --set's temporary configs go

# 1. Exit status, exec'd directly (same pid) and through the fork (with --set).
"$CONAN" run -- sh -c 'exit 7'; rc=$?
[ $rc -eq 7 ] || fail "exit 7 came back as $rc"
"$CONAN" run --set interval_ms=1000 -- sh -c 'exit 9'; rc=$?
[ $rc -eq 9 ] || fail "with --set, exit 9 came back as $rc"
"$CONAN" run -- sh -c 'echo $$ > "$1"; exit 0' sh "$WORK/pid" & pid=$!
wait $pid
[ "$(cat "$WORK/pid")" = "$pid" ] || fail "without --set CMD is not exec'd in place: pid $(cat "$WORK/pid"), conan $pid"

# 2. A child killed by SIGTERM: conan run dies of SIGTERM too (143 in the shell).
"$CONAN" run -- sh -c 'kill -TERM $$'; rc=$?
[ $rc -eq 143 ] || fail "SIGTERM (exec'd): status $rc, want 143"
"$CONAN" run --set interval_ms=1000 -- sh -c 'kill -TERM $$'; rc=$?
[ $rc -eq 143 ] || fail "SIGTERM (forked): status $rc, want 143"

# 3. A signal sent to conan run reaches CMD (forked: a pid of its own).
"$CONAN" run --set interval_ms=1000 -- sh -c 'trap "exit 42" USR1; echo $$ > "$1"; while :; do sleep 0.05; done' \
    sh "$WORK/child" & pid=$!
wait_for 10 test -s "$WORK/child" || fail "the child did not start"
[ "$(cat "$WORK/child")" != "$pid" ] || fail "with --set, CMD should have a pid of its own"
kill -USR1 $pid
wait $pid; rc=$?
[ $rc -eq 42 ] || fail "SIGUSR1 sent to conan run: status $rc, want the child's 42"

# 4. --set changes the effective config (app, dump_dir, the CPU rule): the
# CPU rule trips on the burst and the dump carries the app's name; stdout is
# the program's own; the private config was 0600 and is gone afterwards.
write_config "$WORK/base.json" '{ "app": "base", "interval_ms": 100, "dump_dir": "/nonexistent/never",
  "cpu": { "abs": 1000, "window": 0, "profile_seconds": 1 } }'
"$WORKLOADS/spike" 0 2500 1 0 >"$WORK/plain.out" 2>/dev/null
"$CONAN" run --config "$WORK/base.json" --set app=setapp --set "dump_dir=$DUMPS" --set cpu.min=0 \
    --set "cpu.abs=$BUSY_ABS" -- sh -c 'stat -c %a "$CONAN_CONFIG" > "$1"; exec "$2" 0 2500 1 0' sh "$WORK/mode" \
    "$WORKLOADS/spike" >"$WORK/run.out" 2>"$WORK/run.err" || fail "conan run failed: $(cat "$WORK/run.err")"
cmp -s "$WORK/plain.out" "$WORK/run.out" || fail "stdout changed: '$(cat "$WORK/run.out")'"
[ "$(cat "$WORK/mode")" = 600 ] || fail "the temporary config has mode $(cat "$WORK/mode"), want 600"
[ -z "$(ls -A "$WORK/tmp")" ] || fail "temporary config left behind: $(ls -A "$WORK/tmp")"
dumps=$(dumps_of_kind cpu)
[ -n "$dumps" ] || { cat "$WORK/run.err" >&2; fail "no cpu dump in the --set dump_dir"; }
case $dumps in setapp.*) ;; *) fail "dump named $dumps, want setapp.<pid>.cpu..." ;; esac
grep -q '"app":"setapp"' "$DUMPS/events.jsonl" || fail "the event does not name app setapp"

# 5. A config libconan would refuse: its one-line message, status 2, CMD not run.
"$CONAN" run --set cpu.hz=5000 -- touch "$WORK/ran" 2>"$WORK/err"; rc=$?
[ $rc -eq 2 ] || fail "bad --set: status $rc, want 2"
[ ! -e "$WORK/ran" ] || fail "bad --set: the command ran"
grep -qx 'conan run: --set over the defaults: cpu.hz: 5000 is out of range \[1, 1000\]' "$WORK/err" ||
    fail "bad --set: message '$(cat "$WORK/err")'"
printf '{ "mode": "sometimes" }' > "$WORK/bad.json"
"$CONAN" run --config "$WORK/bad.json" -- touch "$WORK/ran" 2>"$WORK/err"; rc=$?
shim=$(LD_PRELOAD="$LIBCONAN" CONAN_CONFIG="$WORK/bad.json" /bin/true 2>&1)
[ $rc -eq 2 ] && [ ! -e "$WORK/ran" ] || fail "bad --config: status $rc, or the command ran"
[ "conan run: ${shim#libconan: }" = "$(cat "$WORK/err") (libconan stays inert)" ] ||
    fail "bad --config: '$(cat "$WORK/err")' is not the shim's '$shim'"
[ -z "$(ls -A "$WORK/tmp")" ] || fail "temporary config left behind after a refusal"

# 6. Not found, not executable: as a shell says them.
"$CONAN" run -- no-such-command-here 2>"$WORK/err"; rc=$?
[ $rc -eq 127 ] && grep -q 'no-such-command-here: command not found' "$WORK/err" || fail "not found: $rc $(cat "$WORK/err")"
printf 'x\n' > "$WORK/noexec"; chmod 644 "$WORK/noexec"
for set in "" "--set interval_ms=1000"; do # exec'd, and forked
    # no x bit at all: even root's execve refuses it (EACCES)
    "$CONAN" run $set -- "$WORK/noexec" 2>"$WORK/err"; rc=$?
    [ $rc -eq 126 ] && grep -q 'noexec: Permission denied' "$WORK/err" ||
        fail "not executable ($set): status $rc, want 126 ($(cat "$WORK/err"))"
done

# 7. LD_PRELOAD: the shim first, entries already there kept, the shim never twice.
other="$WORKLOADS/libdl_resident.so"
out=$(LD_PRELOAD="$other" "$CONAN" run -- sh -c 'printf %s "$LD_PRELOAD"')
[ "${out#* }" = "$other" ] && [ "$(readlink -f "${out%% *}")" = "$(readlink -f "$LIBCONAN")" ] ||
    fail "LD_PRELOAD is '$out', want this build's libconan, then $other"
out=$(LD_PRELOAD="$LIBCONAN" "$CONAN" run -- sh -c 'printf %s "$LD_PRELOAD"')
[ "$out" = "$LIBCONAN" ] || fail "the shim was added twice: '$out'"

# 8. A conan with no libconan beside it refuses in one line.
mkdir -p "$WORK/elsewhere/cli"
cp "$CONAN" "$WORK/elsewhere/cli/conan"
"$WORK/elsewhere/cli/conan" run -- true 2>"$WORK/err"; rc=$?
[ $rc -eq 1 ] && [ "$(wc -l < "$WORK/err")" -eq 1 ] && grep -q '^conan run: no libconan for this conan' "$WORK/err" ||
    fail "no shim: status $rc, '$(cat "$WORK/err")'"
exit 0
