#!/usr/bin/env bash
# wall_cost.sh — figure 11: what the wall profile costs, on a process with
# THREADS (200) threads, nearly all parked in pthread_cond_wait and TICKERS (4)
# waking every 20 ms for a little work (bench_wall_idle), through one CPU window
# of WINDOW_S (3) seconds at wall.hz 20. Contenders, interleaved ROUNDS rounds,
# the order alternating: wall off and wall on (wall.enable false / true, all
# else equal). The cost is the process's CPU time during the window (the cpu
# event's cpu_s) on minus off, paired per round, over the window's length, in
# percent of one CPU; the median of the rounds. Target: <= 1% (issue 16). The
# monitor's own accounting of its rounds (the wall profile's comment, CPU of the
# monitor thread in the rounds) is printed beside it, and the same for a pool
# with no tickers and one with ten (info).
# usage: wall_cost.sh [--quick] [--rounds N]
DEFAULT_ROUNDS=5
. "$(dirname "$0")/lib.sh"
WORKLOAD="$WORKLOADS/bench_wall_idle"
[ -x "$WORKLOAD" ] || die "$WORKLOAD is not built"
THREADS=200
WINDOW_S=3
[ "$QUICK" = 1 ] && WINDOW_S=2

run() { # run WALL TICKERS ROUND — appends "ROUND cpu_s duration_s monitor_percent" to $WORK/WALL.TICKERS
    local wall=$1 tickers=$2 round=$3 dir="$WORK/$1.$2.$3"
    mkdir -p "$dir"
    printf '{ "dump_dir": "%s", "cpu": { "min": 1000, "abs": 1000, "profile_seconds": %d }, "heap": { "sample_bytes": 0 },
      "threads": { "enable": false }, "memory": { "enable": false }, "wall": { "enable": %s, "hz": 20 } }\n' \
        "$dir" "$WINDOW_S" "$wall" > "$dir.json"
    LD_PRELOAD="$LIBCONAN" CONAN_CONFIG="$dir.json" "$WORKLOAD" "$THREADS" "$tickers" "$dir" \
        || { fail "wall=$wall tickers=$tickers: the workload failed (round $round)"; return 1; }
    local event monitor=-
    event=$(grep '"kind":"cpu"' "$dir/events.jsonl")
    if [ "$wall" = true ]; then
        local file
        file=$(json_field "$(grep '"kind":"wall"' "$dir/events.jsonl")" file)
        [ -s "$file" ] || { fail "wall on: no wall profile (round $round)"; return 1; }
        monitor=$(pprof -raw "$file" | sed -n 's/.*sampling cost the monitor .* (\([0-9.]*\)% of one CPU).*/\1/p')
    fi
    printf '%s %s %s %s\n' "$round" "$(json_field "$event" cpu_s)" "$(json_field "$event" duration_s)" "$monitor" \
        >> "$WORK/$wall.$tickers"
}

figure() { # figure TICKERS TARGET
    local tickers=$1 target=$2
    for ((r = 0; r < ROUNDS; r++)); do
        if ((r % 2)); then run true "$tickers" "$r"; run false "$tickers" "$r"
        else run false "$tickers" "$r"; run true "$tickers" "$r"; fi
    done
    [ -s "$WORK/true.$tickers" ] && [ -s "$WORK/false.$tickers" ] || die "tickers $tickers: no run completed"
    note "$tickers tickers, wall off (round cpu_s duration_s): $(cut -d' ' -f1-3 "$WORK/false.$tickers" | paste -sd,)"
    note "$tickers tickers, wall on (round cpu_s duration_s monitor%): $(paste -sd, "$WORK/true.$tickers")"
    awk 'NR == FNR { c[$1] = $2; next } ($1 in c) && $3 > 0 { printf "%.3f\n", ($2 - c[$1]) / $3 * 100 }' \
        "$WORK/false.$tickers" "$WORK/true.$tickers" > "$WORK/paired.$tickers"
    result 11 "wall on - off, $THREADS threads ($tickers waking every 20 ms): process CPU" \
        "$(median < "$WORK/paired.$tickers")" "% of one CPU" "$target"
    result 11 "same: the monitor's rounds (its own account)" "$(cut -d' ' -f4 "$WORK/true.$tickers" | median)" \
        "% of one CPU" -
}

note "$THREADS threads, a ${WINDOW_S}-s window at wall.hz 20, $ROUNDS round(s) each; machine shared: see the steal line"
figure 4 "<=1"
if [ "$QUICK" = 0 ]; then
    figure 0 -
    figure 10 -
fi
exit $STATUS
