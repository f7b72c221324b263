#!/usr/bin/env bash
# cpu_overhead.sh — figures 2 and 3, from the same runs: a CPU-bound program
# (bench_cpu_work: two threads, worker_a and worker_b, the same fixed work
# each, sized by a calibration run to last SECONDS) run unprofiled, under
# libconan sampling at 100 Hz (per-thread timers, as shipped), under libconan
# at 1000 Hz (conan_1000hz: what the signal-path walk costs at ten times the
# rate), under libconan with its process-wide timer (cpu.timer "process"),
# and under gperftools' CPU
# profiler (CPUPROFILE, CPUPROFILE_FREQUENCY=100, one process-wide
# ITIMER_PROF), interleaved, ROUNDS rounds.
#
# The flight recorder is off in these runs: they measure the window, and the
# program's wait for a SIGPROF timer must find the window's (figure 10,
# recorder_cost.sh, measures the recorder).
#
# libconan's window is opened on demand before the work starts (a
# conan.trigger file in its dump directory, cpu.profile_seconds longer than the
# run) and the program waits until its SIGPROF timer exists, so the whole work
# is profiled; the window ends when the program exits and the profile is
# written then. gperftools profiles from its constructor to exit.
#
# Figure 2: wall time of the work (measured by the program) against the
#   unprofiled run, median of each; target ≤ 1.02x at 100 Hz, ≤ 1.05x at
#   1000 Hz. CPU time alongside.
# Figure 3: samples received (samples/count under worker_a and worker_b, read
#   with go tool pprof) ÷ (each run's rate × the two threads' own CPU seconds), target
#   ≥ 0.95; and worker_a's share of the two, target 45–55% (worker_b has the
#   rest). By function, not thread label, because gperftools has none.
# usage: cpu_overhead.sh [--quick] [--rounds N] [SECONDS]
. "$(dirname "$0")/lib.sh"
SECONDS_OF_WORK=${ARGS[0]:-5}
[ "$QUICK" = 1 ] && SECONDS_OF_WORK=1
HZ=100
WORKLOAD="$WORKLOADS/bench_cpu_work"
[ -x "$WORKLOAD" ] || die "$WORKLOAD is not built"

names=(plain conan conan_1000hz conan_process)
if [ -n "$PROFILER" ]; then names+=(gperf_cpu); else skip_result 3 gperf_cpu "$(peer_missing libprofiler.so.0 libgoogle-perftools4)"; fi

units=$("$WORKLOAD" --seconds "$SECONDS_OF_WORK" | awk '{ print $2 }')
[ -n "$units" ] && [ "$units" -gt 0 ] || die "calibration run failed"
note "work: $units units per thread (${SECONDS_OF_WORK} s on an unprofiled calibration run), $ROUNDS round(s)"

hz_of() { [ "$1" = conan_1000hz ] && echo 1000 || echo "$HZ"; }

conan_config() { # conan_config DIR TIMER HZ
    printf '{ "dump_dir": "%s", "interval_ms": 100, "recorder": { "enable": false }, "cpu": { "abs": 0, "window": 0, "hz": %d, "profile_seconds": %d, "timer": "%s" } }\n' \
        "$1" "$3" $((SECONDS_OF_WORK * 10 + 10)) "$2"
}

# samples_by_worker FILE [BINARY] — "A B": samples/count with worker_a, worker_b on the stack.
samples_by_worker() {
    pprof -top -cum -sample_index=samples -nodefraction=0 "$@" |
        awk '$6 == "worker_a" { a = $4 } $6 == "worker_b" { b = $4 } END { printf "%d %d\n", a, b }'
}

run() { # run NAME ROUND — appends "wall cpu_a cpu_b process_cpu samples_a samples_b" to $WORK/NAME
    local name=$1 dir="$WORK/$1.$2" out profile
    mkdir -p "$dir"
    case $name in
    plain) out=$("$WORKLOAD" "$units") ;;
    conan | conan_1000hz | conan_process)
        local timer=thread
        [ "$name" = conan_process ] && timer=process
        conan_config "$dir" "$timer" "$(hz_of "$name")" > "$dir.json"
        touch "$dir/conan.trigger"
        out=$(LD_PRELOAD="$LIBCONAN" CONAN_CONFIG="$dir.json" "$WORKLOAD" --wait-window 10 "$units") ;;
    gperf_cpu)
        out=$(LD_PRELOAD="$PROFILER" CPUPROFILE="$dir/cpu.prof" CPUPROFILE_FREQUENCY=$HZ "$WORKLOAD" "$units" 2>"$dir/err") ;;
    esac || { fail "$name: the workload failed (round $2)"; return 1; }
    local counts="- -"
    case $name in
    conan | conan_1000hz | conan_process)
        profile=$(ls "$dir"/*.cpu.*.pb.gz 2>/dev/null | head -1)
        [ -n "$profile" ] || { fail "$name: no CPU profile (round $2): $(cat "$dir/events.jsonl" 2>/dev/null)"; return 1; }
        local timer_used
        timer_used=$(json_field "$(grep '"kind":"cpu"' "$dir/events.jsonl")" timer)
        [ "$timer_used" = "${timer}" ] || fail "$name: the window used the $timer_used timer"
        counts=$(samples_by_worker -symbolize=none "$profile") ;;
    gperf_cpu)
        [ -s "$dir/cpu.prof" ] || { fail "gperf_cpu: no profile (round $2): $(cat "$dir/err")"; return 1; }
        counts=$(samples_by_worker "$WORKLOAD" "$dir/cpu.prof") ;;
    esac
    printf '%s %s\n' "$(printf '%s\n' "$out" | awk '{ print $4, $6, $8, $10 }')" "$counts" >> "$WORK/$name"
}

for ((r = 1; r <= ROUNDS; r++)); do
    for name in "${names[@]}"; do run "$name" "$r"; done
done

col() { awk -v c="$2" '{ print $c }' "$WORK/$1" | median; }
[ -s "$WORK/plain" ] || die "no unprofiled run completed"
wall_plain=$(col plain 1)
cpu_plain=$(col plain 4)
note "unprofiled: wall $wall_plain s, process CPU $cpu_plain s (medians)"
note "  runs (wall cpu_a cpu_b process_cpu): $(cut -d' ' -f1-4 "$WORK/plain" | paste -sd, -)"
result 2 "plain: wall" "$wall_plain" s -
for name in "${names[@]}"; do
    [ "$name" = plain ] && continue
    [ -s "$WORK/$name" ] || { fail "$name: no run completed"; continue; }
    wall=$(col "$name" 1)
    cpu=$(col "$name" 4)
    # per run: fidelity = samples ÷ (hz × CPU-s of the two workers); share of worker_a
    awk -v hz="$(hz_of "$name")" '{ a = $5; b = $6; fid = (a + b) / (hz * ($2 + $3)); share = (a + b) ? a / (a + b) : 0
        printf "%.4f %.4f %.4f\n", fid, share, (share > 0.5 ? share - 0.5 : 0.5 - share) }' "$WORK/$name" > "$WORK/$name.fid"
    fidelity=$(awk '{ print $1 }' "$WORK/$name.fid" | median)
    share=$(awk '{ print $2 }' "$WORK/$name.fid" | median)
    worst=$(sort -g -k3 "$WORK/$name.fid" | tail -1 | awk '{ print $2 }')
    wall_ratio=$(awk -v a="$wall" -v b="$wall_plain" 'BEGIN { printf "%.4f", a / b }')
    cpu_ratio=$(awk -v a="$cpu" -v b="$cpu_plain" 'BEGIN { printf "%.4f", a / b }')
    note "$name: wall $wall s (x$wall_ratio), CPU $cpu s (x$cpu_ratio); samples ÷ (hz × CPU-s) $fidelity; worker_a share $share (worst run $worst)"
    note "  runs (wall cpu_a cpu_b process_cpu samples_a samples_b): $(paste -sd, "$WORK/$name")"
    target_wall=-; target_fid=-; target_share=-
    if [ "$name" = conan ]; then target_wall="<=1.02"; target_fid=">=0.95"; target_share="0.45..0.55"; fi
    [ "$name" = conan_1000hz ] && target_wall="<=1.05"
    result 2 "$name: wall x plain" "$wall_ratio" x "$target_wall"
    result 2 "$name: CPU x plain" "$cpu_ratio" x -
    result 3 "$name: samples / (hz x CPU-s)" "$fidelity" ratio "$target_fid"
    result 3 "$name: worker_a share" "$share" fraction "$target_share"
    result 3 "$name: worker_a share, worst run" "$worst" fraction -
done
exit $STATUS
