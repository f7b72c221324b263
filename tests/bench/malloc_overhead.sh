#!/usr/bin/env bash
# malloc_overhead.sh — figure 1: ns per malloc+free pair (16–512 B, a ring of
# 64 live blocks per thread) on 1 and 2 threads, for: glibc alone; a bare
# forwarding interposer (the cost of LD_PRELOAD interposition itself); libconan
# with heap sampling off; libconan as shipped (sampling every 512 KiB,
# adaptive, idle); jemalloc alone; libconan with jemalloc behind it; and the
# peers, each beside the allocator it runs on: tcmalloc alone and with
# TCMALLOC_SAMPLE_PARAMETER=524288; jemalloc's profiler (MALLOC_CONF=prof:true,
# 512 KiB sampling); gperftools' heap profiler (HEAPPROFILE, on tcmalloc, which
# records every allocation); heaptrack (every allocation, on glibc).
# Contenders run interleaved (A B C … A B C …), ROUNDS rounds (11 by
# default), and each is reported with its median and the median over rounds
# of its difference to the allocator it wraps in the same round (paired: on
# this VM two runs of the same program a minute apart differ by more than the
# 1 ns the target is about; neighbours in time share the state of the moment).
# libconan is also compared with the bare forwarder: the floor any interposer
# pays (the program's call reaches an extra function and an indirect jump). The two
# tracers that record every call run fewer pairs, PAIRS/100 (gperftools, whose
# cost per pair is flat from 50,000 pairs) and PAIRS/4 (heaptrack, whose
# start-up cost inside the loop is amortized only over millions of pairs).
# usage: malloc_overhead.sh [--quick] [--rounds N] [--no-peers] [ROUNDS [PAIRS]]
#        (env: LIBCONAN, WORKLOADS as in the suite)
# Targets (issue #6): libconan adds ≤ 1 ns per pair over the allocator it
# wraps, ≤ 1.13x glibc. As a suite test it also guards against regressions
# (not under --quick): libconan as shipped may cost at most 2x glibc per pair in
# its best round (a lock or a shared atomic on the fast path would cost several
# times glibc in every round); the bound is loose because CI machines are noisy.
DEFAULT_ROUNDS=11
. "$(dirname "$0")/lib.sh"
PEERS=1
positional=()
for a in "${ARGS[@]+"${ARGS[@]}"}"; do
    if [ "$a" = --no-peers ]; then PEERS=0; else positional+=("$a"); fi
done
set -- "${positional[@]+"${positional[@]}"}"
[ $# -ge 1 ] && ROUNDS=$1
PAIRS=${2:-10000000}
[ "$QUICK" = 1 ] && { ROUNDS=1; PAIRS=1000000; }
BENCH="$WORKLOADS/bench_malloc_free"
FORWARDER="$WORKLOADS/libbench_forwarder.so"
[ -x "$BENCH" ] && [ -f "$FORWARDER" ] || die "$BENCH or $FORWARDER is not built"
printf '{ "dump_dir": "%s/d", "heap": { "sample_bytes": 0 } }\n' "$WORK" > "$WORK/off.json"
printf '{ "dump_dir": "%s/d" }\n' "$WORK" > "$WORK/default.json"

# name, the allocator it wraps (its baseline), and the pairs divisor.
names=(glibc forwarder conan_off conan)
declare -A base=([glibc]=glibc [forwarder]=glibc [conan_off]=glibc [conan]=glibc [heaptrack]=glibc
    [jemalloc]=jemalloc [conan_jemalloc]=jemalloc [jemalloc_prof]=jemalloc
    [tcmalloc]=tcmalloc [tcmalloc_sampled]=tcmalloc [gperf_heap]=tcmalloc)
declare -A divisor=([gperf_heap]=100 [heaptrack]=4)
if [ -n "$JEMALLOC" ]; then names+=(jemalloc conan_jemalloc); else skip_result 1 "jemalloc" "$(peer_missing libjemalloc.so.2 libjemalloc2)"; fi
if [ "$PEERS" = 1 ]; then
    [ -n "$JEMALLOC" ] && names+=(jemalloc_prof)
    if [ -n "$TCMALLOC" ]; then names+=(tcmalloc tcmalloc_sampled gperf_heap); else skip_result 1 "tcmalloc" "$(peer_missing libtcmalloc.so.4 libgoogle-perftools4)"; fi
    if [ -n "$HEAPTRACK" ]; then names+=(heaptrack); else skip_result 1 "heaptrack" "$(peer_missing heaptrack heaptrack)"; fi
fi

run() { # run NAME THREADS — prints ns per pair
    local pairs=$((PAIRS / ${divisor[$1]:-1})) out="$WORK/out.$1"
    case $1 in
    glibc) "$BENCH" "$2" "$pairs" ;;
    forwarder) LD_PRELOAD="$FORWARDER" "$BENCH" "$2" "$pairs" ;;
    conan_off) LD_PRELOAD="$LIBCONAN" CONAN_CONFIG="$WORK/off.json" "$BENCH" "$2" "$pairs" ;;
    conan) LD_PRELOAD="$LIBCONAN" CONAN_CONFIG="$WORK/default.json" "$BENCH" "$2" "$pairs" ;;
    jemalloc) LD_PRELOAD="$JEMALLOC" "$BENCH" "$2" "$pairs" ;;
    conan_jemalloc) LD_PRELOAD="$LIBCONAN $JEMALLOC" CONAN_CONFIG="$WORK/default.json" "$BENCH" "$2" "$pairs" ;;
    jemalloc_prof) LD_PRELOAD="$JEMALLOC" MALLOC_CONF=prof:true "$BENCH" "$2" "$pairs" ;;
    tcmalloc) LD_PRELOAD="$TCMALLOC" "$BENCH" "$2" "$pairs" ;;
    tcmalloc_sampled) LD_PRELOAD="$TCMALLOC" TCMALLOC_SAMPLE_PARAMETER=524288 "$BENCH" "$2" "$pairs" ;;
    gperf_heap)
        rm -rf "$WORK/hp"; mkdir "$WORK/hp"
        LD_PRELOAD="$TCMALLOC" HEAPPROFILE="$WORK/hp/prof" "$BENCH" "$2" "$pairs" 2>"$out.err" || return 1
        ls "$WORK"/hp/prof.*.heap >/dev/null 2>&1 || { echo "gperftools wrote no heap profile: $(cat "$out.err")" >&2; return 1; } ;;
    heaptrack)
        # heaptrack prints its own lines on stdout around the program's.
        "$HEAPTRACK" -o "$WORK/ht" "$BENCH" "$2" "$pairs" >"$out" 2>"$out.err" || { cat "$out.err" >&2; return 1; }
        ls "$WORK"/ht.* >/dev/null 2>&1 || { echo "heaptrack wrote no data: $(cat "$out.err")" >&2; return 1; }
        rm -f "$WORK"/ht.*
        grep -E '^[0-9]+\.[0-9]+$' "$out" | tail -1 ;;
    esac
}

# paired NAME BASE OP — the median over rounds of NAME's run OP BASE's run of
# the same round ("-": the ns added, "/": the ratio). Runs next to each other
# share the machine's state of the moment, so their difference is far less
# noisy than the difference of two medians on this VM.
paired() {
    paste -d' ' "$WORK/$1.$threads" "$WORK/$2.$threads" \
        | awk -v op="$3" '{ print (op == "/") ? $1 / $2 : $1 - $2 }' | median
}

for threads in 1 2; do
    for ((r = 0; r < ROUNDS; r++)); do
        for name in "${names[@]}"; do
            value=$(run "$name" "$threads") && [ -n "$value" ] || die "$name on $threads threads did not run"
            echo "$value" >> "$WORK/$name.$threads"
        done
    done
    note "$threads thread(s), $ROUNDS interleaved rounds, ns per malloc+free pair: median, and the median of each"
    note "  round's difference to the allocator it wraps (paired):"
    for name in "${names[@]}"; do
        m=$(median < "$WORK/$name.$threads")
        a=${base[$name]}
        added=$(paired "$name" "$a" -)
        ratio=$(paired "$name" "$a" /)
        awk -v n="$name" -v m="$m" -v d="$added" -v x="$ratio" -v a="$a" -v div="${divisor[$name]:-1}" \
            'BEGIN { printf "#   %-16s %8.2f ns   %+7.2f ns (x%.3f) over %s%s\n", n, m, d, x, a, (div > 1 ? sprintf(" (PAIRS/%d)", div) : "") }'
        result 1 "${threads}t $name" "$m" ns -
    done
    t=${threads}t
    result 1 "$t conan: added over glibc" "$(paired conan glibc - | xargs printf %.2f)" ns "<=1"
    result 1 "$t conan: x glibc" "$(paired conan glibc / | xargs printf %.3f)" x "<=1.13"
    result 1 "$t forwarder: added over glibc (any interposer's floor)" "$(paired forwarder glibc - | xargs printf %.2f)" ns -
    result 1 "$t conan: added over the bare forwarder" "$(paired conan forwarder - | xargs printf %.2f)" ns "<=1"
    if [ -f "$WORK/conan_jemalloc.$threads" ]; then
        result 1 "$t conan_jemalloc: added over jemalloc" "$(paired conan_jemalloc jemalloc - | xargs printf %.2f)" ns "<=1"
    fi
    for name in jemalloc_prof tcmalloc_sampled gperf_heap heaptrack; do
        [ -f "$WORK/$name.$threads" ] || continue
        result 1 "$t $name: added over ${base[$name]}" "$(paired "$name" "${base[$name]}" - | xargs printf %.2f)" ns -
    done
    # The guard takes the round where libconan fared best: a lock or a shared
    # atomic on the fast path costs several times glibc in every round, while
    # a second test suite on the machine can double one program's time in
    # most rounds (seen: x2.03 median beside another suite, x1.09 on 2 threads
    # in the same run).
    if [ "$QUICK" = 0 ]; then
        best=$(paste -d' ' "$WORK/conan.$threads" "$WORK/glibc.$threads" | awk '{ print $1 / $2 }' | sort -g | head -1)
        awk -v x="$best" 'BEGIN { exit !(x <= 2) }' \
            || fail "libconan costs more than 2x glibc per pair on $threads thread(s), even in its best round (x$best)"
    fi
done
exit $STATUS
