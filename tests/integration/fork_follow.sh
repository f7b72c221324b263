#!/usr/bin/env bash
# A pre-fork server: the parent forks workers that burn CPU. Each worker runs
# its own monitor (follow_fork, the default): its CPU rule trips and its
# profile carries its own pid in the file name and comments and shows its own
# work. With "follow_fork": false the workers stay inert. Output and exit
# status are the program's own either way.
. "$(dirname "$0")/lib.sh"
skip_forking_children_if_sanitized
require_go
# A busy thread trips the rule (BUSY_ABS) if it holds for three ticks: the
# workers burn for 2 s, while the parent's own CPU is the two forks, a burst
# that can fill one or two ticks to 0.05 of a CPU on a loaded machine (it
# wrote a profile of its own when one tick was enough) but never three.
rule='"interval_ms": 100, "dump_dir": "@DUMPS@", "cpu": { "min": 0, "abs": '"$BUSY_ABS"', "window": 0, "sustain": 3, "profile_seconds": 1 }'
write_config "$WORK/on.json" "{ $rule }"
write_config "$WORK/off.json" "{ $rule, \"follow_fork\": false }"

"$WORKLOADS/forks" prefork 2 2000 "$WORK/plain.log" >"$WORK/plain.out" 2>"$WORK/plain.err"; plain_rc=$?
under_shim "$WORK/on.json" "$WORKLOADS/forks" prefork 2 2000 "$WORK/on.log" >"$WORK/on.out" 2>"$WORK/on.err"; rc=$?
[ $rc -eq $plain_rc ] && [ $rc -eq 0 ] || fail "exit status $rc (without the shim $plain_rc): $(cat "$WORK/on.err")"
cmp -s "$WORK/plain.out" "$WORK/on.out" || fail "stdout changed: $(cat "$WORK/on.out")"
[ ! -s "$WORK/on.err" ] || fail "unexpected stderr: $(cat "$WORK/on.err")"

workers=$(awk '{ print $1 }' "$WORK/on.log")
for w in $workers; do
    files=$(dumps_of_kind cpu | grep "^forks\.$w\.cpu\." || true)
    [ -n "$files" ] || fail "worker $w wrote no CPU profile (dumps: $(ls "$DUMPS" | tr '\n' ' '))"
    f="$DUMPS/$(echo "$files" | head -1)"
    pprof -comments "$f" | grep -qx "pid: $w" || fail "$f: comments do not say pid $w: $(pprof -comments "$f" | grep pid)"
    top=$(top_function "$f")
    [ "$top" = "worker_burn" ] || fail "$f: top function $top, want worker_burn"
    grep "\"pid\":$w," "$DUMPS/events.jsonl" | grep -q '"kind":"cpu"' || fail "no event line with pid $w"
done
others=$(dumps_of_kind cpu | grep -Ev "^forks\.($(echo $workers | tr ' ' '|'))\." || true)
[ -z "$others" ] || fail "CPU profiles from a process that did no work: $others"
note "workers $(echo $workers) each wrote their own CPU profile"

rm -rf "$DUMPS"
under_shim "$WORK/off.json" "$WORKLOADS/forks" prefork 2 2000 "$WORK/off.log" >"$WORK/off.out" 2>&1 \
    || fail "with follow_fork false: $(cat "$WORK/off.out")"
[ "$(count_dumps cpu)" -eq 0 ] || fail "follow_fork false, yet workers wrote: $(ls "$DUMPS")"
exit 0
