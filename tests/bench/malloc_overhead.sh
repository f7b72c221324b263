#!/usr/bin/env bash
# malloc_overhead.sh — ns per malloc+free pair (16–512 B, a ring of 64 live
# blocks per thread) on 1 and 2 threads, for: glibc alone; a bare forwarding
# interposer (the cost of LD_PRELOAD interposition itself); libconan with heap
# sampling off; libconan as shipped (sampling every 512 KiB, adaptive, idle);
# jemalloc alone; libconan with jemalloc behind it. Contenders run interleaved
# (A B C … A B C …), ROUNDS rounds, and the medians are reported with the
# difference to the allocator each one wraps.
# usage: malloc_overhead.sh [ROUNDS [PAIRS]]   (env: LIBCONAN, WORKLOADS as in the suite)
# As a suite test it also guards against regressions: libconan as shipped may
# cost at most 2x glibc per pair (about 1.3x measured; a lock or a shared
# atomic on the fast path would cost several times glibc). The bound is loose
# because CI machines are noisy; the figures themselves are for docs and notes.
set -u
: "${LIBCONAN:?}" "${WORKLOADS:?}"
ROUNDS=${1:-5}
PAIRS=${2:-10000000}
BENCH="$WORKLOADS/bench_malloc_free"
FORWARDER="$WORKLOADS/libbench_forwarder.so"
JEMALLOC=$(ls /usr/lib/*/libjemalloc.so.2 2>/dev/null | head -1)
WORK=$(mktemp -d /tmp/conan-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
printf '{ "dump_dir": "%s/d", "heap": { "sample_bytes": 0 } }\n' "$WORK" > "$WORK/off.json"
printf '{ "dump_dir": "%s/d" }\n' "$WORK" > "$WORK/default.json"

names=(glibc forwarder conan_off conan jemalloc conan_jemalloc)
run() { # run NAME THREADS
    case $1 in
    glibc) "$BENCH" "$2" "$PAIRS" ;;
    forwarder) LD_PRELOAD="$FORWARDER" "$BENCH" "$2" "$PAIRS" ;;
    conan_off) LD_PRELOAD="$LIBCONAN" CONAN_CONFIG="$WORK/off.json" "$BENCH" "$2" "$PAIRS" ;;
    conan) LD_PRELOAD="$LIBCONAN" CONAN_CONFIG="$WORK/default.json" "$BENCH" "$2" "$PAIRS" ;;
    jemalloc) LD_PRELOAD="$JEMALLOC" "$BENCH" "$2" "$PAIRS" ;;
    conan_jemalloc) LD_PRELOAD="$LIBCONAN $JEMALLOC" CONAN_CONFIG="$WORK/default.json" "$BENCH" "$2" "$PAIRS" ;;
    esac
}
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

status=0
for threads in 1 2; do
    for ((r = 0; r < ROUNDS; r++)); do
        for name in "${names[@]}"; do
            [ -n "$JEMALLOC" ] || case $name in *jemalloc) continue ;; esac
            run "$name" "$threads" >> "$WORK/$name.$threads" || { echo "FAIL: $name on $threads threads" >&2; exit 1; }
        done
    done
    declare -A med
    for name in "${names[@]}"; do
        [ -s "$WORK/$name.$threads" ] && med[$name]=$(median < "$WORK/$name.$threads")
    done
    echo "# $threads thread(s), median of $ROUNDS interleaved runs, ns per malloc+free pair:"
    for name in "${names[@]}"; do
        [ -n "${med[$name]:-}" ] || continue
        base=${med[glibc]}; case $name in *jemalloc) base=${med[jemalloc]} ;; esac
        awk -v n="$name" -v m="${med[$name]}" -v b="$base" \
            'BEGIN { printf "#   %-15s %7.2f ns   %+6.2f ns (x%.3f) over its allocator\n", n, m, m - b, m / b }'
    done
    awk -v c="${med[conan]}" -v g="${med[glibc]}" 'BEGIN { exit !(c <= 2 * g) }' \
        || { echo "FAIL: libconan costs more than 2x glibc per pair on $threads thread(s)" >&2; status=1; }
    unset med
done
exit $status
