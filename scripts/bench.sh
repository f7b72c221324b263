#!/usr/bin/env bash
# bench.sh — issue #6's overhead and fidelity figures, libconan beside the
# tools people would use instead (jemalloc's and gperftools' profilers,
# tcmalloc's sampling, heaptrack). Installs what is missing (scripts/setup.sh),
# builds, runs every figure script of tests/bench, and writes a summary:
#     <out>/results.tsv   every result line: figure, name, value, unit, target, verdict
#     <out>/summary.md    the machine, the command, and the table
#     <out>/<script>.log  each script's full output
# <out> is $BENCH_OUT, by default <build>/bench. docs/BENCHMARKS.md says what
# each figure measures and how.
#
# usage: scripts/bench.sh [--quick] [--rounds N] [--only SCRIPT[,SCRIPT…]]
#   --quick   one short round of everything (≤ 90 s): checks that every script
#             runs and prints its figures; targets are not judged (too noisy).
#             The test suite runs this (bench/all_quick).
#   --rounds  rounds for every script (default: each script's own, ≥ 5)
#   --only    e.g. --only cpu_overhead,footprint
# With LIBCONAN and WORKLOADS set (as meson test sets them) that build is used:
# no setup, no build. Exit status: 0 when every script ran and printed its
# figures, whatever the verdicts; the last line counts targets met and missed.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD

opts=()
only=""
while [ $# -gt 0 ]; do
    case $1 in
    --quick) opts+=(--quick) ;;
    --rounds) opts+=(--rounds "$2"); shift ;;
    --only) only=$2; shift ;;
    *) echo "usage: scripts/bench.sh [--quick] [--rounds N] [--only SCRIPT[,SCRIPT...]]" >&2; exit 2 ;;
    esac
    shift
done

if [ -z "${LIBCONAN:-}" ] || [ -z "${WORKLOADS:-}" ]; then
    build=${BUILD_DIR:-build}
    scripts/setup.sh || echo "bench: scripts/setup.sh failed; peers that are missing will be skipped" >&2
    BUILD_DIR=$build scripts/build.sh || { echo "bench: build failed"; exit 1; }
    export LIBCONAN="$root/$build/libconan.so" WORKLOADS="$root/$build/tests"
fi
out=${BENCH_OUT:-$(dirname "$LIBCONAN")/bench}
mkdir -p "$out"
: > "$out/results.tsv"

# script → the figures it must print
scripts=(malloc_overhead cpu_overhead heap_fidelity redis_throughput trigger_latency footprint inert_startup cli_speed
    recorder_cost wall_cost label_cost)
declare -A figures=([malloc_overhead]=1 [cpu_overhead]="2 3" [heap_fidelity]=4 [redis_throughput]="5 10"
    [trigger_latency]=6 [footprint]=7 [inert_startup]=8 [cli_speed]=9 [recorder_cost]=10 [wall_cost]=11 [label_cost]=14)

steal_jiffies() { awk '$1 == "cpu" { print $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat; }
read -r steal0 total0 <<<"$(steal_jiffies)"
started=$SECONDS
failed=()
for s in "${scripts[@]}"; do
    if [ -n "$only" ] && [[ ",$only," != *",$s,"* ]]; then continue; fi
    echo "== $s ${opts[*]}"
    t0=$SECONDS
    tests/bench/$s.sh "${opts[@]+"${opts[@]}"}" 2>&1 | tee "$out/$s.log"
    status=${PIPESTATUS[0]}
    grep -P '^[1-9][0-9]?\t' "$out/$s.log" >> "$out/results.tsv"
    for f in ${figures[$s]}; do
        grep -qP "^$f\t.*\t(met|missed|quick|info)\$" "$out/$s.log" || { echo "bench: $s printed no figure $f" >&2; status=1; }
    done
    echo "== $s: exit $status, $((SECONDS - t0)) s"
    [ "$status" -eq 0 ] || failed+=("$s")
done
read -r steal1 total1 <<<"$(steal_jiffies)"
steal=$(awk -v s=$((steal1 - steal0)) -v t=$((total1 - total0)) 'BEGIN { printf "%.1f", t ? 100 * s / t : 0 }')

{
    echo "# libconan benchmark summary"
    echo
    echo "- command: \`scripts/bench.sh${opts[*]+ ${opts[*]}}\`$([ -n "$only" ] && echo " --only $only"), $(date -u +%Y-%m-%dT%H:%MZ), $((SECONDS - started)) s"
    echo "- libconan: $(git -C "$root" describe --always --dirty 2>/dev/null || echo unknown)"
    echo "- machine: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) CPUs, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), kernel $(uname -r)"
    echo "- CPU time stolen by the hypervisor during the run: $steal%; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo
    echo "| figure | name | value | unit | target | verdict |"
    echo "| --- | --- | --- | --- | --- | --- |"
    awk -F'\t' '{ printf "| %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6 }' "$out/results.tsv"
} > "$out/summary.md"
cat "$out/summary.md"
echo
met=$(awk -F'\t' '$6 == "met"' "$out/results.tsv" | grep -c . || true)
missed=$(awk -F'\t' '$6 == "missed"' "$out/results.tsv" | grep -c . || true)
skipped=$(awk -F'\t' '$6 == "skip"' "$out/results.tsv" | grep -c . || true)
echo "bench: results in $out (results.tsv, summary.md, logs)"
if [ ${#failed[@]} -gt 0 ]; then
    echo "bench: FAILED: ${failed[*]}; targets: $met met, $missed missed; $skipped skipped"
    exit 1
fi
echo "bench: every script ran; targets: $met met, $missed missed; $skipped skipped"
