#!/usr/bin/env bash
# recorder_cost.sh — figure 10: what the flight recorder costs, on figure 2's
# CPU-bound program (bench_cpu_work: two threads, the same fixed work each,
# sized by a calibration run to last SECONDS), beside gperftools' CPU
# profiler at the same rate (CPUPROFILE_FREQUENCY=19, one process-wide
# ITIMER_PROF from its constructor to exit: the always-on profiler a user
# would reach for instead). Contenders, interleaved, ROUNDS rounds, the order
# rotating (round r starts at contender r mod N):
#  plain        no profiler
#  conan_norec  libconan with rules that cannot trip and the recorder off
#  conan_rec    the same with the recorder on (19 Hz, as shipped); the
#               program first waits until the recorder's SIGPROF timer exists
#  gperf_cpu19  gperftools' CPU profiler at 19 Hz
# The recorder's cost is conan_rec against conan_norec, paired per round (the
# machine's speed drifts between rounds, not within one): the median of the
# per-round ratios of the process's CPU time (getrusage over the work) and of
# the wall time. Target: CPU ≤ 1.005 (0.5%). Each contender is also paired
# with plain the same way (info). redis's side of the figure is in
# redis_throughput.sh (conan_idle against conan_norec).
# usage: recorder_cost.sh [--quick] [--rounds N] [SECONDS]
DEFAULT_ROUNDS=9
. "$(dirname "$0")/lib.sh"
SECONDS_OF_WORK=${ARGS[0]:-4}
[ "$QUICK" = 1 ] && SECONDS_OF_WORK=1
WORKLOAD="$WORKLOADS/bench_cpu_work"
[ -x "$WORKLOAD" ] || die "$WORKLOAD is not built"

names=(plain conan_norec conan_rec)
if [ -n "$PROFILER" ]; then names+=(gperf_cpu19); else skip_result 10 gperf_cpu19 "$(peer_missing libprofiler.so.0 libgoogle-perftools4)"; fi

units=$("$WORKLOAD" --seconds "$SECONDS_OF_WORK" | awk '{ print $2 }')
[ -n "$units" ] && [ "$units" -gt 0 ] || die "calibration run failed"
note "work: $units units per thread (${SECONDS_OF_WORK} s on an unprofiled calibration run), $ROUNDS round(s)"

run() { # run NAME ROUND — appends "ROUND wall process_cpu" to $WORK/NAME
    local name=$1 round=$2 dir="$WORK/$1.$2" out
    mkdir -p "$dir"
    case $name in
    plain) out=$("$WORKLOAD" "$units") ;;
    conan_norec | conan_rec)
        local recorder=true wait=()
        [ "$name" = conan_norec ] && recorder=false
        [ "$name" = conan_rec ] && wait=(--wait-window 10)
        printf '{ "dump_dir": "%s", "recorder": { "enable": %s }, "cpu": { "abs": 1000, "window": 0 }, "heap": { "sample_bytes": 0 } }\n' \
            "$dir" "$recorder" > "$dir.json"
        out=$(LD_PRELOAD="$LIBCONAN" CONAN_CONFIG="$dir.json" "$WORKLOAD" "${wait[@]+"${wait[@]}"}" "$units") ;;
    gperf_cpu19)
        out=$(LD_PRELOAD="$PROFILER" CPUPROFILE="$dir/cpu.prof" CPUPROFILE_FREQUENCY=19 "$WORKLOAD" "$units" 2>"$dir/err") ;;
    esac || { fail "$name: the workload failed (round $round)"; return 1; }
    [ "$name" != gperf_cpu19 ] || [ -s "$dir/cpu.prof" ] || { fail "gperf_cpu19: no profile (round $round)"; return 1; }
    [ ! -e "$dir/events.jsonl" ] || fail "$name: libconan wrote profiles: $(head -2 "$dir/events.jsonl")"
    printf '%s %s\n' "$round" "$(printf '%s\n' "$out" | awk '{ print $4, $10 }')" >> "$WORK/$name"
}

N=${#names[@]}
for ((r = 0; r < ROUNDS; r++)); do
    for ((i = 0; i < N; i++)); do run "${names[(r + i) % N]}" "$r"; done
done

paired() { # paired A B — per round: "wall A ÷ wall B  CPU A ÷ CPU B"
    awk 'NR == FNR { w[$1] = $2; c[$1] = $3; next } ($1 in w) && w[$1] > 0 && c[$1] > 0 { printf "%.5f %.5f\n", $2 / w[$1], $3 / c[$1] }' \
        "$WORK/$2" "$WORK/$1"
}
for name in "${names[@]}"; do
    [ -s "$WORK/$name" ] || die "$name: no run completed"
    note "$name: runs (round wall process_cpu): $(paste -sd, "$WORK/$name")"
    [ "$name" = plain ] && continue
    paired "$name" plain > "$WORK/$name.paired"
    result 10 "$name: wall x plain" "$(cut -d' ' -f1 "$WORK/$name.paired" | median)" x -
    result 10 "$name: CPU x plain" "$(cut -d' ' -f2 "$WORK/$name.paired" | median)" x -
done
paired conan_rec conan_norec > "$WORK/recorder.paired"
note "recorder on ÷ off per round (wall CPU): $(paste -sd, "$WORK/recorder.paired")"
result 10 "recorder on / off: CPU" "$(cut -d' ' -f2 "$WORK/recorder.paired" | median)" x "<=1.005"
result 10 "recorder on / off: wall" "$(cut -d' ' -f1 "$WORK/recorder.paired" | median)" x -
exit $STATUS
