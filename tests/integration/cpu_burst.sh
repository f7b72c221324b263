#!/usr/bin/env bash
# Calm, then two CPU bursts in burn_cpu_in_spike: exactly one CPU dump per burst
# (the cooldown holds within a burst), pprof names the burst function first by
# flat time, and the event lines match the files.
. "$(dirname "$0")/lib.sh"
require_go
write_config "$WORK/c.json" '{ "interval_ms": 100, "dump_dir": "@DUMPS@",
  "cpu": { "min": 10, "diff": 25, "abs": 95, "window": 5, "cooldown_s": 4, "profile_seconds": 1 } }'

out=$(under_shim "$WORK/c.json" "$WORKLOADS/spike" 1200 2500 2 4000 2>"$WORK/err") || fail "workload exited $?"
[ "$(cat "$WORK/err")" = "spike: bye (SIGPROF default)" ] || fail "stderr: $(cat "$WORK/err") (SIGPROF must be given back)"
[ "$out" = $'burst 1 done\nburst 2 done' ] || fail "stdout changed: $out"

n=$(count_dumps cpu)
[ "$n" -eq 2 ] || { ls -l "$DUMPS" >&2; cat "$DUMPS/events.jsonl" >&2; fail "want 2 cpu dumps (one per burst), got $n"; }
[ "$(grep -c . "$DUMPS/events.jsonl")" -eq 2 ] || fail "want 2 event lines"

for f in $(dumps_of_kind cpu); do
    top=$(top_function "$DUMPS/$f")
    [ "$top" = burn_cpu_in_spike ] || { pprof -top "$DUMPS/$f" >&2; fail "$f: top function is '$top'"; }
    line=$(grep -F "\"file\":\"$DUMPS/$f\"" "$DUMPS/events.jsonl") || fail "no event line for $f"
    [ "$(json_field "$line" kind)" = cpu ] || fail "event kind: $line"
    [ "$(json_field "$line" reason)" = spike ] || fail "event reason: $line"
    [ "$(json_field "$line" metric)" = cpu ] || fail "event metric: $line"
    [ "$(json_field "$line" timer)" = thread ] || fail "event timer: $line"
    value=$(json_field "$line" value)
    awk -v v="$value" 'BEGIN { exit !(v >= 25) }' || fail "event value $value below the burst level"
    samples=$(json_field "$line" samples)
    [ "$samples" -gt 50 ] || fail "only $samples samples in a 1-s window at 100 Hz"
    mode=$(stat -c %a "$DUMPS/$f"); [ "$mode" = 600 ] || fail "$f has mode $mode"
    note "$f: top=$top samples=$samples value=$value write_ms=$(json_field "$line" write_ms) bytes=$(json_field "$line" bytes)"
done
[ "$(stat -c %a "$DUMPS")" = 700 ] || fail "dump dir mode is $(stat -c %a "$DUMPS")"
exit 0
