#!/usr/bin/env bash
# The CPU pressure rule on the real /proc/pressure/cpu: two busy threads per
# CPU keep runnable tasks waiting nearly all the time. This host is cgroup v1
# (no cgroup pressure files), so the rule reads the machine's file only with
# pressure.host; without it there is nothing to read and nothing trips.
# Another suite beside this one adds pressure of its own, so the test never
# asserts that pressure stays low; it asserts that a trip happens while the
# heavy phase runs and that its profile shows the function that made it.
# (PSI for memory cannot be caused safely here: fixtures cover the files,
# tests/unit/test_pressure.c.)
. "$(dirname "$0")/lib.sh"
require_go
[ -r /proc/pressure/cpu ] || skip "this kernel has no /proc/pressure/cpu (PSI off)"
# The busy threads run at nice 19: they wait for a CPU (that is the pressure)
# without starving another suite's tests beside this one (an ASan test got a
# tenth of its CPU while 4 busy threads per CPU ran at nice 0). At hz 1000 the
# little CPU they get still leaves samples in the profile.
threads=$(( $(nproc) * 2 ))

# 1. pressure.host off: no cgroup v2 pressure file here, so no reading.
write_config "$WORK/off.json" '{ "interval_ms": 200, "dump_dir": "@DUMPS@", "heap": { "enable": false },
  "cpu": { "min": 0, "abs": '"$BUSY_ABS"', "window": 0, "profile_seconds": 1, "cooldown_s": 600 },
  "pressure": { "cpu": { "abs": 1, "min": 0 } } }'
if grep -q '^0::/' /proc/self/cgroup && [ -f "/sys/fs/cgroup$(sed -n 's/^0:://p' /proc/self/cgroup)/cpu.pressure" ]; then
    note "cgroup v2 with pressure files here: part 1 (no reading without pressure.host) does not apply"
else
    nice -n 19 env LD_PRELOAD="$LIBCONAN" CONAN_CONFIG="$WORK/off.json" "$WORKLOADS/cpu_levels" 200 1500 "$threads" >/dev/null || fail "workload failed"
    grep -q '"metric":"pressure.cpu"' "$DUMPS/events.jsonl" && fail "pressure rule tripped without pressure.host"
    grep -q 'psi_cpu_pct' "$DUMPS/events.jsonl" && fail "pressure recorded without pressure.host"
    rm -rf "$DUMPS"
fi

# 2. pressure.host on: the heavy phase trips it (cooldown 0: a trip while
# the light phase runs, from another suite's load, does not hide the next).
write_config "$WORK/on.json" '{ "interval_ms": 250, "dump_dir": "@DUMPS@", "heap": { "enable": false },
  "cpu": { "enable": false, "profile_seconds": 1, "hz": 1000 }, "throttle": { "enable": false },
  "pressure": { "host": true, "cpu": { "abs": 50, "cooldown_s": 0 }, "memory": { "enable": false },
                "io": { "enable": false } } }'
nice -n 19 env LD_PRELOAD="$LIBCONAN" CONAN_CONFIG="$WORK/on.json" "$WORKLOADS/cpu_levels" 1000 5000 "$threads" >/dev/null || fail "workload failed"
[ -s "$DUMPS/events.jsonl" ] || fail "the pressure rule never tripped with $threads busy threads on $(nproc) CPUs"
python3 - "$DUMPS" <<'PY' > "$WORK/trips" || fail "a pressure event is wrong"
import json, os, sys
d = sys.argv[1]
for line in open(os.path.join(d, "events.jsonl")):
    e = json.loads(line)
    if e["kind"] != "cpu": continue
    trip = e["timeline"]["before"][-1]
    if e["metric"] != "pressure.cpu" or e["value"] < 50 or abs(trip["psi_cpu_pct"] - round(e["value"], 2)) > 0.006:
        print("FAIL: event", line, file=sys.stderr); sys.exit(1)
    if e["file"]: print(e["file"], "%.1f" % e["value"])
PY
found=""
while read -r file value; do
    top=$(top_function "$file")
    note "pressure.cpu trip at $value%: top function $top"
    [ "$top" = heavy_load ] && found=1
done < "$WORK/trips"
[ -n "$found" ] || fail "no pressure trip's profile has heavy_load on top"
exit 0
