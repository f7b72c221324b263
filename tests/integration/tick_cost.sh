#!/usr/bin/env bash
# A monitor tick (read CPU, cgroup quota and affinity, RSS and thread count
# from one /proc/self/stat read, the heap from mallinfo2, evaluate four rules,
# look for trigger files) costs little more than the least any tick must do:
# wake up and read /proc/self/stat. Measured on an idle program ticking every
# 10 ms: the conan-monitor thread's CPU time per tick, beside a reference
# thread of the program's own that wakes on the same 10-ms grid and reads
# /proc/self/stat, in the same process at the same time (idle MS reference).
#
# What a tick costs in µs depends on the machine's load far more than on our
# code: on the 2-core VM a tick is 30-90 µs alone and 100-220 µs with another
# test suite running, because its wake-up and system calls get slower (the
# reference slows alike). So the bound is on the ratio: the median over ROUNDS
# runs of tick / reference must stay under MAX_RATIO (seen 0.9-1.9 per run
# under load). A tick that did a few times the work it does now (another
# /proc file, a mallinfo2 on a fragmented heap, a directory scan) fails it.
# The µs figure is printed for the README (0.002% of a CPU at the default 5-s
# interval).
. "$(dirname "$0")/lib.sh"
skip_if_sanitized "a tick's CPU cost is a figure of the plain build; instrumentation multiplies it"
ROUNDS=5
MS=2000
MAX_RATIO=3
write_config "$WORK/c.json" '{ "interval_ms": 10, "dump_dir": "@DUMPS@" }'
for ((r = 1; r <= ROUNDS; r++)); do
    out=$(under_shim "$WORK/c.json" "$WORKLOADS/idle" $MS reference) || fail "idle under the shim failed"
    read -r _ monitor_us runs reference_us wakeups <<<"$out"
    [ "${monitor_us:-0}" -gt 0 ] || fail "no conan-monitor thread found: $out"
    # Scheduled in at least every other tick: it did tick (runs can exceed
    # ticks, a tick cut by preemption counts twice, so take the fewer; and a
    # monitor that fell behind skips the ticks it missed, 155 of 200 seen
    # under load, where the reference catches up on every one).
    [ "$runs" -ge $((wakeups / 2)) ] || fail "the monitor ran $runs times in $MS ms at a 10-ms interval: $out"
    ticks=$((runs < wakeups ? runs : wakeups))
    awk -v m="$monitor_us" -v t="$ticks" -v r="$reference_us" -v w="$wakeups" \
        'BEGIN { printf "%.1f %.1f %.2f\n", m / t, r / w, (m / t) / (r / w) }' >>"$WORK/rounds"
done
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
tick=$(cut -d' ' -f1 "$WORK/rounds" | median)
reference=$(cut -d' ' -f2 "$WORK/rounds" | median)
ratio=$(cut -d' ' -f3 "$WORK/rounds" | median)
note "CPU per tick: $tick µs; reference wake-up reading /proc/self/stat: $reference µs; ratio $ratio (medians of $ROUNDS runs of $MS ms at 10 ms)"
note "runs (tick µs, reference µs, ratio): $(paste -sd, "$WORK/rounds")"
awk -v r="$ratio" -v max=$MAX_RATIO 'BEGIN { exit !(r <= max) }' \
    || fail "a tick costs $ratio times a bare wake-up reading /proc/self/stat ($tick µs vs $reference µs)"
exit 0
