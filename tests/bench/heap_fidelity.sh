#!/usr/bin/env bash
# heap_fidelity.sh — figure 4: how well a heap profile estimates a known leak.
# bench_leak keeps exactly 64 MiB in blocks of 1–64 KiB from leak_into_cache
# (sizes drawn from a seed that changes every round, the same for every
# contender within a round) and holds it while profiles are taken:
#  - libconan as shipped (heap.sample_bytes 512 KiB): a heap profile asked for
#    on demand (conan.trigger) once the leak is complete; the estimate is
#    leak_into_cache's inuse_space (go tool pprof -top -unit=B);
#  - jemalloc's profiler (MALLOC_CONF=prof:true, lg_prof_sample 19 = 512 KiB,
#    prof_final: a dump at exit, leak still held), read with jeprof --text
#    --inuse_space --show_bytes;
#  - gperftools' heap profiler (HEAPPROFILE on tcmalloc; it records every
#    allocation, so its error is the floor), its final dump at exit read with
#    go tool pprof.
# Reported: the median over ROUNDS of |estimate − leak| ÷ leak, target ≤ 10%
# for libconan, the median signed error and the worst run. Sampling every
# 512 KiB, the estimate of a 64 MiB leak has a standard error of
# √(512 KiB ÷ 64 MiB) ≈ 9%, so single runs beyond 10% are expected.
# A round takes about a second, so 15 rounds by default: the median of a
# quantity this noisy needs them.
# usage: heap_fidelity.sh [--quick] [--rounds N] [LEAK_MIB]
DEFAULT_ROUNDS=15
. "$(dirname "$0")/lib.sh"
LEAK_MIB=${ARGS[0]:-64}
WORKLOAD="$WORKLOADS/bench_leak"
[ -x "$WORKLOAD" ] || die "$WORKLOAD is not built"

names=(conan)
if [ -n "$JEMALLOC" ] && [ -n "$JEPROF" ]; then names+=(jemalloc_prof)
else skip_result 4 jemalloc_prof "$(peer_missing "libjemalloc.so.2 or jeprof" "libjemalloc2, libjemalloc-dev")"; fi
if [ -n "$TCMALLOC" ]; then names+=(gperf_heap)
else skip_result 4 gperf_heap "$(peer_missing libtcmalloc.so.4 libgoogle-perftools4)"; fi

# flat_bytes FUNCTION — the flat column of `-top -unit=B`-style output on stdin.
flat_bytes() { awk -v f="$1" '$NF == f { sub(/B$/, "", $1); print $1; found = 1; exit } END { if (!found) print 0 }'; }

run() { # run NAME SEED — appends "leaked estimate" to $WORK/NAME
    local name=$1 seed=$2 dir="$WORK/$1.$2" out estimate profile
    mkdir -p "$dir"
    case $name in
    conan)
        printf '{ "dump_dir": "%s", "interval_ms": 100, "cpu": { "enable": false }, "memory": { "enable": false },
  "heap": { "enable": false }, "threads": { "enable": false } }\n' "$dir" > "$dir.json"
        out=$(LD_PRELOAD="$LIBCONAN" CONAN_CONFIG="$dir.json" "$WORKLOAD" "$LEAK_MIB" "$seed" "$dir" 20) \
            || { fail "conan: the workload failed"; return 1; }
        profile=$(ls "$dir"/*.heap.*.pb.gz 2>/dev/null | head -1)
        [ -n "$profile" ] || { fail "conan: no heap profile (seed $seed): $(cat "$dir/events.jsonl" 2>/dev/null)"; return 1; }
        estimate=$(pprof -top -sample_index=inuse_space -unit=B -symbolize=none "$profile" | flat_bytes leak_into_cache) ;;
    jemalloc_prof)
        out=$(LD_PRELOAD="$JEMALLOC" MALLOC_CONF="prof:true,prof_final:true,prof_prefix:$dir/jeprof" \
            "$WORKLOAD" "$LEAK_MIB" "$seed" - 0) || { fail "jemalloc_prof: the workload failed"; return 1; }
        profile=$(ls "$dir"/jeprof.*.heap 2>/dev/null | tail -1)
        [ -n "$profile" ] || { fail "jemalloc_prof: no dump at exit (is Debian's jemalloc built with profiling?)"; return 1; }
        estimate=$("$JEPROF" --text --inuse_space --show_bytes "$WORKLOAD" "$profile" 2>"$dir/jeprof.err" | flat_bytes leak_into_cache) ;;
    gperf_heap)
        out=$(LD_PRELOAD="$TCMALLOC" HEAPPROFILE="$dir/hp" "$WORKLOAD" "$LEAK_MIB" "$seed" - 0 2>"$dir/err") \
            || { fail "gperf_heap: the workload failed: $(cat "$dir/err")"; return 1; }
        profile=$(ls "$dir"/hp.*.heap 2>/dev/null | tail -1)
        [ -n "$profile" ] || { fail "gperf_heap: no heap profile: $(cat "$dir/err")"; return 1; }
        estimate=$(pprof -top -sample_index=inuse_space -unit=B "$WORKLOAD" "$profile" | flat_bytes leak_into_cache) ;;
    esac
    local leaked
    leaked=$(printf '%s\n' "$out" | awk '/^leaked/ { print $2 }')
    [ -n "$leaked" ] && [ "${estimate:-0}" -gt 0 ] || { fail "$name: no estimate for leak_into_cache (seed $seed)"; return 1; }
    echo "$leaked $estimate" >> "$WORK/$name"
    rm -rf "$dir"
}

for ((r = 1; r <= ROUNDS; r++)); do
    for name in "${names[@]}"; do run "$name" "$r"; done
done

for name in "${names[@]}"; do
    [ -s "$WORK/$name" ] || { fail "$name: no run completed"; continue; }
    awk '{ e = ($2 - $1) / $1; printf "%.4f %.4f\n", (e < 0 ? -e : e), e }' "$WORK/$name" > "$WORK/$name.err"
    abs_err=$(awk '{ print $1 }' "$WORK/$name.err" | median)
    signed=$(awk '{ print $2 }' "$WORK/$name.err" | median)
    worst=$(sort -g "$WORK/$name.err" | tail -1 | awk '{ print $1 }')
    note "$name: median |error| $abs_err, median signed error $signed, worst $worst over $ROUNDS run(s) of a $LEAK_MIB MiB leak"
    note "  runs (leaked estimate): $(paste -sd, "$WORK/$name")"
    target=-
    [ "$name" = conan ] && target="<=0.10"
    result 4 "$name: median |error|" "$abs_err" fraction "$target"
    result 4 "$name: median signed error" "$signed" fraction -
    result 4 "$name: worst |error|" "$worst" fraction -
done
exit $STATUS
