#!/usr/bin/env bash
# conan diff compares flat shares: spike's profile (all in burn_cpu_in_spike)
# against two_threads' (burner threads' functions) trips the default 5-point
# gate (exit 1) naming a grown function, with burn_cpu_in_spike shrunk by its
# whole share; a threshold above the growth passes (exit 0); a profile against
# itself shows no change; profiles of different types need --sample-index; a
# bad threshold is a usage error (exit 2).
. "$SOURCE_ROOT/tests/integration/lib.sh"
write_config "$WORK/c.json" '{ "app": "APP", "interval_ms": 100, "dump_dir": "@DUMPS@", "heap": { "sample_bytes": 0 },
  "cpu": { "min": 0, "abs": '"$BUSY_ABS"', "window": 0, "cooldown_s": 600, "profile_seconds": 1 } }'
sed 's/"APP"/"base"/' "$WORK/c.json" > "$WORK/base.json"
sed 's/"APP"/"new"/' "$WORK/c.json" > "$WORK/new.json"
under_shim "$WORK/base.json" "$WORKLOADS/spike" 0 1500 1 0 >/dev/null 2>&1 || fail "spike failed"
under_shim "$WORK/new.json" "$WORKLOADS/two_threads" 1.5 >/dev/null || fail "two_threads failed"
base="$DUMPS/$(dumps_of_kind cpu | grep '^base\.' | head -1)"
new="$DUMPS/$(dumps_of_kind cpu | grep '^new\.' | head -1)"
[ -f "$base" ] && [ -f "$new" ] || fail "want a cpu dump of each: $(ls "$DUMPS")"

"$CONAN" diff "$base" "$new" > "$WORK/out" 2> "$WORK/err"
status=$?
[ $status -eq 1 ] || fail "diff spike vs two_threads exited $status, want 1 (gate): $(cat "$WORK/out" "$WORK/err")"
grep -q '^gate: .* grew by more than 5 points' "$WORK/out" || fail "no gate line: $(cat "$WORK/out")"
"$CONAN" diff --json "$base" "$new" > "$WORK/json"
python3 - "$WORK/json" <<'PY' || exit 1
import json, sys
d = json.load(open(sys.argv[1]))
f = {x["name"]: x for x in d["functions"]}
spike = f.get("burn_cpu_in_spike")
if not spike or abs(spike["new_share"]) > 1e-9 or spike["base_share"] < 90:
    sys.exit(f"FAIL: burn_cpu_in_spike: {spike}")
if abs(spike["delta"] + spike["base_share"]) > 1e-6:
    sys.exit(f"FAIL: delta is not new - base: {spike}")
grown = [x for x in d["functions"] if x["delta"] > 5]
if not grown or d["tripped"] != len(grown):
    sys.exit(f"FAIL: tripped {d['tripped']} but {len(grown)} functions grew by more than 5 points")
for side in ("base_share", "new_share"):
    total = sum(x[side] for x in d["functions"])
    if abs(total - 100) > 0.01:
        sys.exit(f"FAIL: {side} sums to {total}, want 100")
print(f"# grown: {', '.join(x['name'] + ' %+.1f' % x['delta'] for x in grown)}")
PY
"$CONAN" diff --threshold 100 "$base" "$new" >/dev/null || fail "threshold 100 still tripped the gate"
"$CONAN" diff "$base" "$base" > "$WORK/same" || fail "a profile against itself tripped the gate"
[ "$(grep -c '(none)' "$WORK/same")" -eq 2 ] || fail "a profile against itself shows changes: $(cat "$WORK/same")"

# Different sample types: an error naming both, unless --sample-index picks one.
write_config "$WORK/heap.json" '{ "app": "heap", "interval_ms": 100, "dump_dir": "@DUMPS@", "cpu": { "enable": false },
  "heap": { "min": 0, "abs": 24, "window": 0 } }'
under_shim "$WORK/heap.json" "$WORKLOADS/heap_leak" 32 "$DUMPS" >/dev/null || fail "heap_leak failed"
heap="$DUMPS/$(dumps_of_kind heap | head -1)"
"$CONAN" diff "$base" "$heap" >/dev/null 2> "$WORK/err"
[ $? -eq 1 ] && grep -q 'choose one with --sample-index' "$WORK/err" || fail "cpu vs heap: $(cat "$WORK/err")"
"$CONAN" diff --threshold 200 "$base" "$new" >/dev/null 2>&1
[ $? -eq 2 ] || fail "a threshold of 200 points is not a usage error"
"$CONAN" diff "$base" >/dev/null 2>&1
[ $? -eq 2 ] || fail "one profile is not a usage error"
exit 0
