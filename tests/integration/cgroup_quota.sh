#!/usr/bin/env bash
# Inside a real cgroup CPU quota of a tenth of a CPU, one busy thread is ~100%
# of what the process may use (not ~5% of two CPUs): the abs rule at 80% trips
# only if CPU is measured against the quota. Needs root and a writable cgroup
# v1 cpu controller or a cgroup v2 tree with the cpu controller.
# (The throttle rule, which would trip too, is off: this test is about the
# CPU rule; tests/integration/throttle_rule.sh tests that one.)
# (The quota was half a CPU, which a busy thread did not get when another test
# suite shared the machine, and the rule never tripped; a tenth it gets.)
. "$(dirname "$0")/lib.sh"
require_go
QUOTA_US=10000 PERIOD_US=100000
cpu_quota_cgroup $QUOTA_US $PERIOD_US
cg=$CG

write_config "$WORK/c.json" '{ "interval_ms": 200, "dump_dir": "@DUMPS@",
  "cpu": { "min": 10, "abs": 80, "window": 0, "cooldown_s": 600, "profile_seconds": 1 },
  "throttle": { "enable": false } }'
in_cgroup env LD_PRELOAD="$LIBCONAN" CONAN_CONFIG="$WORK/c.json" "$WORKLOADS/spike" 300 3000 1 0 >/dev/null \
    || fail "workload failed"

[ "$(count_dumps cpu)" -eq 1 ] || { cat "$DUMPS/events.jsonl" >&2 2>/dev/null; fail "abs rule did not trip against the quota"; }
line=$(head -1 "$DUMPS/events.jsonl")
value=$(json_field "$line" value)
note "cpu% against the quota: $value (cgroup $cg)"
awk -v v="$value" 'BEGIN { exit !(v >= 80 && v <= 100) }' || fail "value $value is not near 100% of the quota"
pprof -comments "$DUMPS/$(dumps_of_kind cpu)" | grep -Eq "^cgroup.*: .*/conan-test-$$\$" || fail "cgroup not in the comments"
exit 0
