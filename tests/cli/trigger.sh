#!/usr/bin/env bash
# conan trigger: a running process under libconan delivers the kinds asked
# for (heap; cpu for the seconds asked, not the config's), whose paths are
# printed; a dead pid, a process without the shim, an inert shim, a disabled
# kind and a caller without the right to look are each one clear line and
# status 1; a CONAN_CONFIG relative to the process's directory is found.
. "$SOURCE_ROOT/tests/integration/lib.sh"
: "${CONAN:?CONAN must point at the conan tool}"
mkdir -p "$DUMPS"
pids=()
has_monitor() { grep -qs conan-monitor /proc/"$1"/task/*/comm; }
at_exit 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null'

# The CPU rule cannot trip (abs 1000, no spike test), and a CPU profile lasts
# 60 s unless the request says otherwise.
write_config "$WORK/c.json" '{ "app": "trig", "interval_ms": 100, "dump_dir": "@DUMPS@",
  "cpu": { "abs": 1000, "window": 0, "profile_seconds": 60 } }'
"$CONAN" run --config "$WORK/c.json" -- "$WORKLOADS/idle" 60000 >/dev/null 2>"$WORK/idle.err" & pid=$!
pids+=($pid)
wait_for 10 has_monitor $pid || fail "the monitor did not start"

# event_of FILE — the events.jsonl line of a dump.
event_of() { grep -F "\"file\":\"$1\"" "$DUMPS/events.jsonl"; }

# 1. --kinds heap: one heap profile, printed, of this process, asked for by hand.
"$CONAN" trigger $pid --kinds heap >"$WORK/out" 2>"$WORK/err" || fail "--kinds heap: status $?: $(cat "$WORK/err")"
[ "$(wc -l < "$WORK/out")" -eq 1 ] || fail "--kinds heap printed: $(cat "$WORK/out")"
file=$(cat "$WORK/out")
[ -s "$file" ] || fail "$file does not exist"
case $(basename "$file") in trig.$pid.heap.*.pb.gz) ;; *) fail "not a heap dump of $pid: $file" ;; esac
ev=$(event_of "$file") || fail "no event for $file"
[ "$(json_field "$ev" kind)" = heap ] && [ "$(json_field "$ev" reason)" = manual ] || fail "event: $ev"
"$CONAN" top "$file" --json | grep -q '"type":"inuse_space"' || fail "$file is not a heap profile"
[ "$(count_dumps cpu)" -eq 0 ] || fail "--kinds heap also took a cpu profile"

# 2. --kinds cpu --seconds 1: a CPU profile of about a second, where the
# config asks for 60 (the wait, 30 s, would run out long before 60), and the
# window's wall profile (wall.enable is on by default), waited for too.
"$CONAN" trigger $pid --kinds cpu --seconds 1 --wait 30 >"$WORK/out" 2>"$WORK/err" ||
    fail "--kinds cpu --seconds 1: status $?: $(cat "$WORK/err")"
[ "$(wc -l < "$WORK/out")" -eq 2 ] || fail "--kinds cpu printed: $(cat "$WORK/out")"
wall=$(sed -n 2p "$WORK/out")
case $(basename "$wall") in trig.$pid.wall.*.pb.gz) ;; *) fail "not a wall dump of $pid: '$wall'" ;; esac
"$CONAN" top "$wall" --json | grep -q '"type":"wall"' || fail "$wall is not a wall profile"
file=$(sed -n 1p "$WORK/out")
case $(basename "$file") in trig.$pid.cpu.*.pb.gz) ;; *) fail "not a cpu dump of $pid: '$file'" ;; esac
[ -s "$file" ] || fail "$file does not exist"
"$CONAN" top "$file" --json | grep -q '"type":"cpu"' || fail "$file is not a CPU profile"
duration=$(json_field "$(event_of "$file")" duration_s)
awk -v d="$duration" 'BEGIN { exit !(d > 0 && d < 30) }' || fail "the window lasted $duration s, not the 1 s asked for"

# 3. --kinds threads: both thread profiles.
"$CONAN" trigger $pid --kinds threads >"$WORK/out" 2>"$WORK/err" || fail "--kinds threads: $(cat "$WORK/err")"
grep -q "/trig\.$pid\.threads\." "$WORK/out" && grep -q "/trig\.$pid\.threadcreate\." "$WORK/out" ||
    fail "--kinds threads printed: $(cat "$WORK/out")"

# 4. Errors, each one line and status 1: a dead pid, a process without the
# shim, a shim that is inert, a usage error (2).
true & dead=$!; wait $dead
"$CONAN" trigger $dead 2>"$WORK/err"; rc=$?
[ $rc -eq 1 ] && [ "$(cat "$WORK/err")" = "conan trigger: $dead: no such process" ] || fail "dead pid: $rc '$(cat "$WORK/err")'"
sleep 30 & plain=$!; pids+=($plain)
"$CONAN" trigger $plain 2>"$WORK/err"; rc=$?
[ $rc -eq 1 ] && grep -q "^conan trigger: $plain: not under libconan (no libconan in /proc/$plain/maps)" "$WORK/err" ||
    fail "no shim: $rc '$(cat "$WORK/err")'"
write_config "$WORK/off.json" '{ "mode": "off", "dump_dir": "@DUMPS@" }'
LD_PRELOAD="$LIBCONAN" CONAN_CONFIG="$WORK/off.json" sleep 30 & inert=$!; pids+=($inert)
wait_for 10 grep -qs libconan /proc/$inert/maps || fail "the inert shim was not loaded"
"$CONAN" trigger $inert 2>"$WORK/err"; rc=$?
[ $rc -eq 1 ] && grep -q "^conan trigger: $inert: libconan is loaded but inert" "$WORK/err" || fail "inert: $rc '$(cat "$WORK/err")'"
"$CONAN" trigger $pid --kinds disk 2>/dev/null; rc=$?
[ $rc -eq 2 ] || fail "--kinds disk: status $rc, want 2"

# 5. A kind the process has off is said, not waited for; a CONAN_CONFIG
# relative to the process's directory is read from there.
mkdir -p "$WORK/app"
write_config "$WORK/app/rel.json" '{ "app": "rel", "interval_ms": 100, "dump_dir": "@DUMPS@", "heap": { "sample_bytes": 0 },
  "cpu": { "abs": 1000, "window": 0, "profile_seconds": 1 } }'
(cd "$WORK/app" && LD_PRELOAD="$LIBCONAN" CONAN_CONFIG=rel.json exec "$WORKLOADS/idle" 60000 >/dev/null) & rel=$!
pids+=($rel)
wait_for 10 has_monitor $rel || fail "the second monitor did not start"
"$CONAN" trigger $rel --kinds heap 2>"$WORK/err"; rc=$?
[ $rc -eq 1 ] && grep -qx "conan trigger: $rel: heap: disabled in this process (heap.sample_bytes is 0)" "$WORK/err" ||
    fail "disabled kind: $rc '$(cat "$WORK/err")'"
"$CONAN" trigger $rel --kinds threads >"$WORK/out" 2>"$WORK/err" || fail "relative config: $(cat "$WORK/err")"
grep -q "/rel\.$rel\.threads\." "$WORK/out" || fail "relative config: printed '$(cat "$WORK/out")'"

# 6. Two processes at once: each delivers.
"$CONAN" trigger $pid $rel --kinds threads >"$WORK/out" 2>"$WORK/err" || fail "two pids: $(cat "$WORK/err")"
[ "$(grep -c '\.threads\.' "$WORK/out")" -eq 2 ] || fail "two pids printed: $(cat "$WORK/out")"

# 7. Not allowed: an unprivileged user cannot look into root's process.
if [ "$(id -u)" -ne 0 ]; then
    note "SKIP part: not root, so no other user to try 'not allowed' with"
elif ! id nobody >/dev/null 2>&1 || ! command -v setpriv >/dev/null; then
    note "SKIP part: no user nobody or no setpriv"
else
    setpriv --reuid=nobody --regid=nogroup --clear-groups "$CONAN" trigger $pid 2>"$WORK/err"; rc=$?
    [ $rc -eq 1 ] && grep -q "^conan trigger: $pid: not allowed: cannot read /proc/$pid/" "$WORK/err" ||
        fail "not allowed: $rc '$(cat "$WORK/err")'"
fi
# 8. An event with an error is reported as one: a program that owns SIGPROF
# gets no CPU profile. (With the flight recorder on, it would get the
# recorder's few samples from before main took SIGPROF, as a profile.)
sed 's/"dump_dir"/"recorder": { "enable": false }, "dump_dir"/' "$WORK/c.json" > "$WORK/norec.json"
"$CONAN" run --config "$WORK/norec.json" -- "$WORKLOADS/sigprof_user" 20000 >/dev/null 2>&1 & own=$!
pids+=($own)
wait_for 10 has_monitor $own || fail "the sigprof_user monitor did not start"
"$CONAN" trigger $own --kinds cpu --seconds 1 --wait 20 >"$WORK/out" 2>"$WORK/err"; rc=$?
[ $rc -eq 1 ] && grep -qx "conan trigger: $own: cpu: the program owns SIGPROF" "$WORK/err" && [ ! -s "$WORK/out" ] ||
    fail "error event: $rc '$(cat "$WORK/err")' '$(cat "$WORK/out")'"
kill $own

# 9. Root asks another user's process: the dump_dir it has not made yet is
# made for it (its owner's, as the shim requires), the request readable by it.
if [ "$(id -u)" -eq 0 ] && id nobody >/dev/null 2>&1 && command -v setpriv >/dev/null; then
    nb=$(mktemp -d /tmp/conan-trigger-nobody.XXXXXX)
    at_exit 'rm -rf "$nb"'
    chmod 755 "$nb"
    printf '{ "app": "nb", "interval_ms": 100, "dump_dir": "%s/dumps" }\n' "$nb" > "$nb/c.json"
    chmod 644 "$nb/c.json"
    setpriv --reuid=nobody --regid=nogroup --clear-groups "$CONAN" run --config "$nb/c.json" -- \
        "$WORKLOADS/idle" 60000 >/dev/null 2>&1 & other=$!
    pids+=($other)
    wait_for 10 has_monitor $other || fail "nobody's monitor did not start"
    "$CONAN" trigger $other --kinds heap >"$WORK/out" 2>"$WORK/err" || fail "root -> nobody: $(cat "$WORK/err")"
    [ "$(stat -c %U "$nb/dumps")" = nobody ] || fail "dump_dir made for nobody is $(stat -c %U "$nb/dumps")'s"
    grep -q "^$nb/dumps/nb\.$other\.heap\." "$WORK/out" || fail "root -> nobody printed '$(cat "$WORK/out")'"
else
    note "SKIP part: not root (or no nobody, no setpriv): root asking another user's process not tried"
fi

grep -v '^libconan: ' "$WORK/idle.err" | grep -q . && fail "the workload's stderr: $(cat "$WORK/idle.err")"
! grep -q '^libconan: ' "$WORK/idle.err" || fail "libconan complained: $(cat "$WORK/idle.err")"
exit 0
