#!/usr/bin/env bash
# The throttle rule on a real CFS quota: one busy thread in a cgroup allowed
# a tenth of a CPU is throttled in nearly every 100-ms period. With the CPU
# rule off, the throttle rule alone trips: one CPU profile whose top function
# is the one that burned the quota, an event naming the metric and value,
# and the tick of the trip in its timeline with the throttled share and time.
# Then the same program in a cgroup without a quota: nothing to read, no trip.
. "$(dirname "$0")/lib.sh"
require_go
cpu_quota_cgroup 10000 100000

write_config "$WORK/c.json" '{ "interval_ms": 500, "dump_dir": "@DUMPS@",
  "cpu": { "enable": false, "profile_seconds": 1 }, "heap": { "enable": false },
  "throttle": { "abs": 20, "cooldown_s": 600 } }'
in_cgroup env LD_PRELOAD="$LIBCONAN" CONAN_CONFIG="$WORK/c.json" "$WORKLOADS/spike" 300 4000 1 0 >/dev/null \
    || fail "workload failed"

[ "$(count_dumps cpu)" -eq 1 ] || { cat "$DUMPS/events.jsonl" >&2 2>/dev/null; fail "want one CPU profile, got $(count_dumps cpu)"; }
line=$(grep '"kind":"cpu"' "$DUMPS/events.jsonl")
note "event: $(printf '%s' "$line" | cut -c1-600)"
python3 - "$line" <<'PY' || fail "the throttle event is wrong"
import json, sys
e = json.loads(sys.argv[1])
def bad(why):
    print("FAIL:", why, file=sys.stderr); sys.exit(1)
if e["metric"] != "throttle" or e["reason"] != "abs": bad("metric %s reason %s" % (e["metric"], e["reason"]))
if not 20 <= e["value"] <= 100: bad("value %s: a busy thread under a tenth of a CPU is throttled most periods" % e["value"])
trip = e["timeline"]["before"][-1]
if trip["t_s"] != 0 or abs(trip["throttled_pct"] - round(e["value"], 2)) > 0.006: bad("trip tick %s" % trip)
if not trip["throttled_s"] > 0: bad("no throttled time in the trip's tick: %s" % trip)
print("# throttled %.1f%% of periods, %.3f s in the 0.5-s tick" % (trip["throttled_pct"], trip["throttled_s"]))
PY
top=$(top_function "$DUMPS/$(dumps_of_kind cpu)")
[ "$top" = burn_cpu_in_spike ] || fail "top function is $top, not the one that burned the quota"
pprof -comments "$DUMPS/$(dumps_of_kind cpu)" | grep -q '^timeline throttled % of periods:' \
    || fail "no throttling in the profile's timeline"

# No quota: the throttle rule has nothing to read, so nothing trips and the
# timeline has no throttling.
rm -rf "$DUMPS"
write_config "$WORK/n.json" '{ "interval_ms": 200, "dump_dir": "@DUMPS@", "heap": { "enable": false },
  "cpu": { "min": 0, "abs": '"$BUSY_ABS"', "window": 0, "profile_seconds": 1 }, "throttle": { "abs": 0.1, "min": 0 } }'
under_shim "$WORK/n.json" "$WORKLOADS/spike" 300 1500 1 0 >/dev/null || fail "workload failed"
grep -q '"metric":"throttle"' "$DUMPS/events.jsonl" && fail "the throttle rule tripped without a quota"
grep -q 'throttled_pct' "$DUMPS/events.jsonl" && fail "throttling recorded without a quota"
exit 0
