#!/usr/bin/env bash
# The timeline: a CPU trip's event carries the ticks before the trip and the
# ticks during its window, timeline.ticks of them at most, with increasing
# times; the trip's tick holds the value the rule tripped on; the profile's
# comments carry the same story, "|" at the trip. An on-demand dump's event
# has the ticks before the request and none "during". Judged on what the
# monitor recorded, never on how fast the machine ran.
. "$(dirname "$0")/lib.sh"
require_go
TICKS=10
write_config "$WORK/c.json" '{ "interval_ms": 200, "dump_dir": "@DUMPS@", "timeline": { "ticks": '$TICKS' },
  "cpu": { "min": 0, "abs": '"$BUSY_ABS"', "window": 0, "cooldown_s": 600, "profile_seconds": 2 },
  "heap": { "enable": false }, "stuck": { "enable": false } }'
# calm for 3 s (15 ticks: the ring is full before the trip), then one 3-s burst
under_shim "$WORK/c.json" "$WORKLOADS/spike" 3000 3000 1 0 >/dev/null || fail "workload failed"
[ "$(count_dumps cpu)" -ge 1 ] || { cat "$DUMPS/events.jsonl" >&2; fail "no CPU profile"; }

python3 - "$DUMPS/events.jsonl" "$TICKS" <<'PY' || fail "the CPU event's timeline is wrong"
import json, os, sys
events = [json.loads(l) for l in open(sys.argv[1])]
ticks = int(sys.argv[2])
want_threads = 2 if os.environ.get("CONAN_SANITIZED") == "tsan" else 1 # TSan runs a background thread
cpu = next(e for e in events if e["kind"] == "cpu")
tl = cpu["timeline"]
before, during = tl["before"], tl.get("during", [])
def bad(why):
    print("FAIL:", why, json.dumps(tl)[:2000], file=sys.stderr)
    sys.exit(1)
if tl["interval_ms"] != 200: bad("interval_ms")
if len(before) != ticks: bad("%d ticks before, want %d (the ring was full)" % (len(before), ticks))
if not during: bad("no ticks during a 2-s window of 200-ms ticks")
if during[-1]["t_s"] > cpu["duration_s"] + 0.25: bad("a tick after the window")
all_ticks = before + during
for a, b in zip(all_ticks, all_ticks[1:]):
    if not (b["wall_s"] > a["wall_s"] and b["t_s"] > a["t_s"]): bad("times do not increase")
if before[-1]["t_s"] != 0: bad("the last tick before is not the trip's")
if any(t["t_s"] > 0 for t in before) or any(t["t_s"] <= 0 for t in during): bad("before/during split")
if abs(before[-1]["cpu_pct"] - round(cpu["value"], 2)) > 0.006:
    bad("trip tick cpu %s, rule saw %s" % (before[-1]["cpu_pct"], cpu["value"]))
for t in all_ticks:
    for key in ("cpu_pct", "rss_mib", "threads"):
        if key not in t: bad("tick without " + key)
    if "heap_mib" in t or "stuck" in t: bad("a metric whose rule is off was recorded")
    if t["threads"] != want_threads: bad("threads %s, want %d: spike's main thread (the monitor excluded)" % (t["threads"], want_threads))
print("# CPU event: %d ticks before the trip, %d during; trip value %.2f" % (len(before), len(during), cpu["value"]))
PY

f="$DUMPS/$(dumps_of_kind cpu | head -1)"
comments=$(pprof -comments "$f") || fail "pprof cannot read $f"
line=$(printf '%s\n' "$comments" | grep '^timeline cpu %:') || fail "no timeline line in the comments: $comments"
before=$(printf '%s\n' "$line" | sed 's/^timeline cpu %://; s/|.*//' | wc -w)
[ "$before" -eq "$TICKS" ] || fail "the comment has $before values before the trip, want $TICKS: $line"
printf '%s\n' "$line" | grep -q ' | ' || fail "no trip mark in: $line"
note "$line"

# On demand: the ticks up to the request, none during.
write_config "$WORK/d.json" '{ "interval_ms": 200, "dump_dir": "@DUMPS@", "timeline": { "ticks": 5 },
  "cpu": { "enable": false }, "heap": { "sample_bytes": 0 }, "stuck": { "enable": false } }'
rm -rf "$DUMPS"; mkdir -p "$DUMPS"
# idle outlives the wait below (a loaded machine under a sanitizer once ended
# a 5-s idle before its request was served); it is ended when the test is.
env LD_PRELOAD="$LIBCONAN" CONAN_CONFIG="$WORK/d.json" "$WORKLOADS/idle" 30000 >/dev/null &
pid=$!
at_exit "kill $pid 2>/dev/null"
sleep 3 # setup: let the ring fill (5 ticks of 200 ms, three times over), not an assertion
touch "$DUMPS/conan.trigger.$pid"
wait_for 10 grep -q '"kind":"threads"' "$DUMPS/events.jsonl" 2>/dev/null || fail "no on-demand dump"
python3 - "$DUMPS/events.jsonl" <<'PY' || fail "the on-demand event's timeline is wrong"
import json, sys
e = next(json.loads(l) for l in open(sys.argv[1]) if '"kind":"threads"' in l)
tl = e["timeline"]
if "during" in tl or len(tl["before"]) != 5 or tl["before"][-1]["t_s"] > 0:
    print("FAIL:", json.dumps(tl), file=sys.stderr); sys.exit(1)
PY
kill -0 $pid 2>/dev/null || fail "idle workload ended early"
exit 0
