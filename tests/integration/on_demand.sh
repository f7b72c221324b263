#!/usr/bin/env bash
# On demand: <dump_dir>/conan.trigger.<pid> and <dump_dir>/conan.trigger make the
# next tick take a profile and are removed (the first may name the kinds); a request is honoured during a
# rule's cooldown; a program linked with libconan asks through conan.h.
. "$(dirname "$0")/lib.sh"
require_go
mkdir -p "$DUMPS"

# 1. Per-process trigger file; the rule cannot trip (abs 1000, no spike test).
write_config "$WORK/quiet.json" '{ "interval_ms": 100, "dump_dir": "@DUMPS@",
  "cpu": { "abs": 1000, "window": 0, "profile_seconds": 1 } }'
env LD_PRELOAD="$LIBCONAN" CONAN_CONFIG="$WORK/quiet.json" "$WORKLOADS/spike" 0 3000 1 0 >/dev/null &
pid=$!
sleep 0.5   # setup: let the shim start before the request
touch "$DUMPS/conan.trigger.$pid"
wait $pid || fail "workload failed"
[ ! -e "$DUMPS/conan.trigger.$pid" ] || fail "conan.trigger.$pid was not removed"
[ "$(count_dumps cpu)" -eq 1 ] || fail "per-pid trigger: want 1 dump, got $(count_dumps cpu)"
grep -q '"reason":"manual"' "$DUMPS/events.jsonl" || fail "per-pid trigger: no manual event"
[ "$(top_function "$DUMPS/$(dumps_of_kind cpu)")" = burn_cpu_in_spike ] || fail "per-pid trigger: wrong top function"

# 1b. The per-process file's content names what is asked for (here only a
# heap profile); content the shim does not understand is refused, in one line
# naming the file and what is wrong, and the file is removed.
rm -rf "$DUMPS"; mkdir -p "$DUMPS"
env LD_PRELOAD="$LIBCONAN" CONAN_CONFIG="$WORK/quiet.json" "$WORKLOADS/idle" 3000 >/dev/null 2>"$WORK/idle.err" &
pid=$!
sleep 0.5   # setup: let the shim start before the request
printf '{"kinds":["disk"]}' > "$DUMPS/conan.trigger.$pid"
wait_for 5 test ! -e "$DUMPS/conan.trigger.$pid" || fail "the bad request was not removed"
printf '{"kinds":["heap"]}\n' > "$DUMPS/.request" && mv "$DUMPS/.request" "$DUMPS/conan.trigger.$pid"
wait $pid || fail "idle failed"
[ "$(count_dumps heap)" -eq 1 ] && [ "$(count_dumps cpu)" -eq 0 ] && [ "$(count_dumps threads)" -eq 0 ] ||
    fail "kinds [heap]: got $(ls "$DUMPS")"
grep -qxF "libconan: $DUMPS/conan.trigger.$pid: kinds[0]: not one of cpu, heap, threads, mutex; request refused" \
    "$WORK/idle.err" || fail "no line for the bad request: $(cat "$WORK/idle.err")"
[ "$(grep -c . "$WORK/idle.err")" -eq 1 ] || fail "more than one line: $(cat "$WORK/idle.err")"

# 2. Shared trigger file, honoured while the rule is cooling down: the abs rule
# trips at once (cooldown 600 s), then the request brings a second profile.
rm -rf "$DUMPS"; mkdir -p "$DUMPS"
write_config "$WORK/hot.json" '{ "interval_ms": 100, "dump_dir": "@DUMPS@",
  "cpu": { "min": 0, "abs": '"$BUSY_ABS"', "window": 0, "cooldown_s": 600, "profile_seconds": 1 } }'
env LD_PRELOAD="$LIBCONAN" CONAN_CONFIG="$WORK/hot.json" "$WORKLOADS/spike" 0 4500 1 0 >/dev/null &
pid=$!
wait_for 10 test -s "$DUMPS/events.jsonl" || fail "the abs rule did not trip"
touch "$DUMPS/conan.trigger"
wait $pid || fail "workload failed"
[ "$(count_dumps cpu)" -eq 2 ] || { cat "$DUMPS/events.jsonl" >&2; fail "want abs + manual dumps, got $(count_dumps cpu)"; }
cpu_events=$(grep '"kind":"cpu"' "$DUMPS/events.jsonl") # each window's wall event follows its cpu event
sed -n 1p <<<"$cpu_events" | grep -q '"reason":"abs"' || fail "first event is not the abs trip"
sed -n 2p <<<"$cpu_events" | grep -q '"reason":"manual"' || fail "second event is not the manual request"
[ ! -e "$DUMPS/conan.trigger" ] || fail "conan.trigger was not removed"

# 3. The API: a program linked with libconan (no LD_PRELOAD) requests a profile.
rm -rf "$DUMPS"; mkdir -p "$DUMPS"
out=$(CONAN_CONFIG="$WORK/quiet.json" "$WORKLOADS/request" 1500) || fail "request workload failed: $out"
[ "$out" = "version 0.1.0 request 0" ] || fail "unexpected output: $out"
[ "$(count_dumps cpu)" -eq 1 ] || fail "API request: want 1 dump, got $(count_dumps cpu)"
top=$(top_function "$DUMPS/$(dumps_of_kind cpu)")
[ "$top" = burn_after_request ] || fail "API request: top function is '$top'"

# 4. A forked child has a monitor of its own: its request brings a profile of
# the child alone; with follow_fork false it is refused and nothing is taken.
rm -rf "$DUMPS"; mkdir -p "$DUMPS"
out=$(CONAN_CONFIG="$WORK/quiet.json" "$WORKLOADS/request" 1500 fork) || fail "fork request failed: $out"
[ "$out" = "child request 0" ] || fail "a forked child's request was refused: $out"
[ "$(count_dumps cpu)" -eq 1 ] || fail "child's request: want 1 dump, got $(count_dumps cpu)"
[ "$(top_function "$DUMPS/$(dumps_of_kind cpu)")" = burn_in_child ] || fail "child's request: wrong top function"
rm -rf "$DUMPS"; mkdir -p "$DUMPS"
write_config "$WORK/nofollow.json" '{ "interval_ms": 100, "dump_dir": "@DUMPS@", "follow_fork": false,
  "cpu": { "abs": 1000, "window": 0, "profile_seconds": 1 } }'
out=$(CONAN_CONFIG="$WORK/nofollow.json" "$WORKLOADS/request" 500 fork) || fail "fork request failed: $out"
[ "$out" = "child request -1" ] || fail "follow_fork false, yet the child's request was accepted: $out"
[ "$(count_dumps cpu)" -eq 0 ] || fail "a profile was taken after the child's refused request"
exit 0
