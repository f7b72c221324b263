#!/usr/bin/env bash
# The flight recorder sees what a rule cannot: two threads burst in
# burst_in_first_function for 1 s, a gap, then one thread loads
# load_in_second_function until the CPU rule (5 ticks in a row at 0.05 of a
# CPU, 0.5 s apart) trips. The burst covers 3 ticks, 4 if one is late (a late
# tick is caught up on), so no window
# ever sees it. The CPU profile must hold the burst under phase=before with
# at least 80% of the CPU time the burst's threads measured themselves (19
# samples per CPU-second, each worth 1/19 s), none of it under phase=during,
# and the load under phase=during; go tool pprof's -tagfocus splits the
# phases the same way. The event says what the recorder covered.
. "$(dirname "$0")/lib.sh"
require_go
write_config "$WORK/c.json" '{ "interval_ms": 500, "dump_dir": "@DUMPS@",
  "cpu": { "min": 0, "abs": '"$BUSY_ABS"', "window": 0, "sustain": 5, "cooldown_s": 60, "profile_seconds": 2 } }'

out=$(under_shim "$WORK/c.json" "$WORKLOADS/burst_then_load" 1000 2 2000 7000) || fail "workload exited $?"
burst_ms=$(printf '%s\n' "$out" | awk '$1 == "burst" { print $3 }')
[ -n "$burst_ms" ] && [ "$(printf '%s\n' "$out" | tail -1)" = done ] || fail "workload output: $out"

file=$(rule_cpu_dump)
event=$(grep -F "\"file\":\"$file\"" "$DUMPS/events.jsonl")
printf '%s' "$event" | grep -q '"before_samples":[0-9]*,"before_s":[0-9.]*,"before_hz":19' \
    || fail "the event does not say what the recorder covered: $event"

# flat CPU nanoseconds of a function in one phase, by conan top
flat_in() {
    "$CONAN" top --json --tag "phase=$1" "$file" |
        python3 -c 'import json, sys; d = json.load(sys.stdin); print(sum(r["flat"] for r in d["rows"] if r["name"] == sys.argv[1]))' "$2"
}
before_burst=$(flat_in before burst_in_first_function) && [ -n "$before_burst" ] || fail "conan top --json failed on $file"
during_burst=$(flat_in during burst_in_first_function)
during_load=$(flat_in during load_in_second_function)
note "burst: $burst_ms ms of CPU measured; recorded before the window: $((before_burst / 1000000)) ms; load during: $((during_load / 1000000)) ms"
awk -v got="$before_burst" -v want="$burst_ms" 'BEGIN { exit !(got >= 0.8 * want * 1e6) }' \
    || { "$CONAN" top --tag phase=before "$file" >&2; fail "phase=before holds $before_burst ns of the burst, want >= 80% of $burst_ms ms"; }
awk -v got="$before_burst" -v want="$burst_ms" 'BEGIN { exit !(got <= 1.3 * want * 1e6 + 60e6) }' \
    || fail "phase=before holds $before_burst ns of the burst, more than its $burst_ms ms of CPU"
[ "$during_burst" -eq 0 ] || fail "the burst shows under phase=during ($during_burst ns)"
[ "$during_load" -gt 0 ] || { "$CONAN" top --tag phase=during "$file" >&2; fail "the load is not under phase=during"; }

# A real reader splits the phases too.
pprof -top -tagfocus=phase=before "$file" | grep -q burst_in_first_function \
    || { cat "$WORK/pprof.err" >&2; fail "go tool pprof -tagfocus=phase=before does not show the burst"; }
pprof -top -tagfocus=phase=during "$file" | grep -q burst_in_first_function \
    && fail "go tool pprof -tagfocus=phase=during shows the burst"
pprof -raw "$file" | grep -q "phase=before: the flight recorder" || fail "no comment on the span of phase=before"
exit 0
