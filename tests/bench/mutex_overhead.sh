#!/usr/bin/env bash
# mutex_overhead.sh — figures 12 and 13, the mutex profiler's cost to the
# program's locks (tests/bench/mutex_lock.c), for: glibc alone; a bare
# forwarding pthread_mutex_lock (any interposer's floor); libconan with the
# mutex profiler off (mutex.enable false: a plain forward); libconan as
# shipped (mutex.enable true, every other kind idle).
# - 12: ns per uncontended lock+unlock, each thread its own mutex, 1 and 2
#   threads. The profiler's fast path is a load of its switch, a load of the
#   mutex's kind and glibc's trylock instead of its lock.
# - 13: throughput of a contended lock: 4 threads on this 2-CPU machine
#   sharing one mutex, short critical sections (every contended wait is timed
#   and about one per mutex.sample_ns waited has its stack walked).
# Contenders run interleaved, ROUNDS rounds (11 by default), and each is
# reported against glibc in the same round (paired, as figure 1).
# usage: mutex_overhead.sh [--quick] [--rounds N] [ROUNDS [PAIRS]]
# Targets (issue #16): uncontended lock+unlock adds <= 2 ns over glibc
# (paired median); contended throughput >= 0.97x glibc (paired median).
DEFAULT_ROUNDS=11
. "$(dirname "$0")/lib.sh"
[ ${#ARGS[@]} -ge 1 ] && ROUNDS=${ARGS[0]}
PAIRS=${ARGS[1]:-20000000}
CONTENDED_PAIRS=$((PAIRS / 10))
[ "$QUICK" = 1 ] && { ROUNDS=1; PAIRS=2000000; CONTENDED_PAIRS=200000; }
BENCH="$WORKLOADS/bench_mutex_lock"
FORWARDER="$WORKLOADS/libbench_forwarder.so"
[ -x "$BENCH" ] && [ -f "$FORWARDER" ] || die "$BENCH or $FORWARDER is not built"
printf '{ "dump_dir": "%s/d", "mutex": { "enable": false } }\n' "$WORK" > "$WORK/off.json"
printf '{ "dump_dir": "%s/d" }\n' "$WORK" > "$WORK/default.json"
names=(glibc forwarder conan_off conan)

run() { # run NAME MODE THREADS PAIRS
    case $1 in
    glibc) "$BENCH" "$2" "$3" "$4" ;;
    forwarder) LD_PRELOAD="$FORWARDER" "$BENCH" "$2" "$3" "$4" ;;
    conan_off) LD_PRELOAD="$LIBCONAN" CONAN_CONFIG="$WORK/off.json" "$BENCH" "$2" "$3" "$4" ;;
    conan) LD_PRELOAD="$LIBCONAN" CONAN_CONFIG="$WORK/default.json" "$BENCH" "$2" "$3" "$4" ;;
    esac
}

# paired NAME OP — the median over rounds of NAME's value OP glibc's of the
# same round.
paired() {
    paste -d' ' "$WORK/$1.$key" "$WORK/glibc.$key" | awk -v op="$2" '{ print (op == "/") ? $1 / $2 : $1 - $2 }' | median
}

for key in uncontended.1 uncontended.2 contended.4; do
    mode=${key%.*} threads=${key#*.}
    pairs=$PAIRS
    [ "$mode" = contended ] && pairs=$CONTENDED_PAIRS
    for ((r = 0; r < ROUNDS; r++)); do
        for name in "${names[@]}"; do
            value=$(run "$name" "$mode" "$threads" "$pairs") && [ -n "$value" ] || die "$name $mode on $threads threads did not run"
            echo "$value" >> "$WORK/$name.$key"
        done
    done
    if [ "$mode" = uncontended ]; then
        note "$threads thread(s), uncontended, $ROUNDS interleaved rounds, ns per lock+unlock: median, and the median"
        note "  of each round's difference to glibc (paired):"
        for name in "${names[@]}"; do
            awk -v n="$name" -v m="$(median < "$WORK/$name.$key")" -v d="$(paired "$name" -)" \
                'BEGIN { printf "#   %-10s %7.2f ns   %+6.2f ns over glibc\n", n, m, d }'
        done
        result 12 "${threads}t conan: added over glibc" "$(paired conan - | xargs printf %.2f)" ns "<=2"
        result 12 "${threads}t forwarder: added over glibc (any interposer's floor)" "$(paired forwarder - | xargs printf %.2f)" ns -
        result 12 "${threads}t conan, mutex off: added over glibc" "$(paired conan_off - | xargs printf %.2f)" ns -
    else
        note "$threads threads on one mutex, $ROUNDS interleaved rounds, critical sections per second: median, and"
        note "  the median of each round's ratio to glibc (paired):"
        for name in "${names[@]}"; do
            awk -v n="$name" -v m="$(median < "$WORK/$name.$key")" -v x="$(paired "$name" /)" \
                'BEGIN { printf "#   %-10s %12.0f /s   x%.3f glibc\n", n, m, x }'
        done
        result 13 "4 threads, one mutex: conan throughput / glibc" "$(paired conan / | xargs printf %.3f)" x ">=0.97"
        result 13 "4 threads, one mutex: forwarder throughput / glibc" "$(paired forwarder / | xargs printf %.3f)" x -
    fi
done
exit $STATUS
