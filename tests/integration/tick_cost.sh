#!/usr/bin/env bash
# A monitor tick (read CPU, cgroup quota and affinity, RSS and thread count
# from one /proc/self/stat read, the heap from mallinfo2, evaluate four rules,
# look for trigger files) costs well under 150 µs of CPU: 0.003% of a CPU at the
# default 5-s interval. Measured on an idle program ticking every 10 ms: its
# whole CPU time is the monitor's. (30–90 µs here, depending on the VM's load.)
. "$(dirname "$0")/lib.sh"
skip_if_sanitized "a tick's CPU cost is a figure of the plain build; instrumentation multiplies it"
write_config "$WORK/c.json" '{ "interval_ms": 10, "dump_dir": "@DUMPS@" }'
ms=3000
base=$("$WORKLOADS/idle" $ms) || fail "idle failed"
with=$(under_shim "$WORK/c.json" "$WORKLOADS/idle" $ms) || fail "idle under the shim failed"
ticks=$((ms / 10))
per_tick=$(awk -v a="$with" -v b="$base" -v t=$ticks 'BEGIN { printf "%.1f", (a - b) / t }')
note "CPU per tick: $per_tick µs (process CPU $with µs with the shim, $base µs without, $ticks ticks)"
awk -v c="$per_tick" 'BEGIN { exit !(c < 150) }' || fail "a tick costs $per_tick µs of CPU"
exit 0
