#!/usr/bin/env bash
# cli_speed.sh — figure 9: how fast the conan tool reads profiles, beside go
# tool pprof. Wall time (median of hyperfine's runs, or of /usr/bin/time's when
# hyperfine is missing) and peak RSS (/usr/bin/time %M, the largest over the
# runs) of:
#     conan top FILE              go tool pprof -top FILE
#     conan flame FILE -o OUT.html, conan flame --folded FILE (when the flame
#     subcommand works: it exits 0 on the real profile; else "flame: not
#     available" and no flame figures)
# on two profiles:
#  a. real: the largest profile the suite's figures write, figure 7b's: a
#     10-s CPU profile (2 s under --quick) of bench_cpu_work --tree, two busy
#     threads whose samples nearly all have stacks of their own.
#  b. synthetic: tests/bench/big_profile.c's deterministic CPU profile of
#     965,000 samples (~50 MB gzipped, ~70 MB of protobuf) over 4,000 functions
#     (20,000 samples, ~1 MB, under --quick).
# Target: conan top no slower than pprof -top on either (ratio ≤ 1). Each
# command runs ROUNDS times (big: at most 3 for pprof, which takes long).
# usage: cli_speed.sh [--quick] [--rounds N]
DEFAULT_ROUNDS=10
. "$(dirname "$0")/lib.sh"
CONAN=${CONAN:-$(dirname "$LIBCONAN")/cli/conan}
[ -x "$CONAN" ] || die "the conan tool is not built ($CONAN)"
CPU_WORK="$WORKLOADS/bench_cpu_work"
BIG="$WORKLOADS/bench_big_profile"
[ -x "$CPU_WORK" ] && [ -x "$BIG" ] || die "bench_cpu_work or bench_big_profile is not built in $WORKLOADS"
[ -x /usr/bin/time ] || die "/usr/bin/time is not installed (package time; scripts/setup.sh installs it)"
HYPERFINE=$(command -v hyperfine || true)
[ -n "$HYPERFINE" ] || note "hyperfine is not installed (scripts/setup.sh installs it): medians of /usr/bin/time instead"

seconds=10 samples=965000
[ "$QUICK" = 1 ] && seconds=2 samples=20000

# a. figure 7b's profile
mkdir -p "$WORK/real"
printf '{ "dump_dir": "%s/real", "interval_ms": 100, "cpu": { "abs": 0, "window": 0, "profile_seconds": %d } }\n' \
    "$WORK" "$seconds" >"$WORK/real.json"
touch "$WORK/real/conan.trigger"
LD_PRELOAD="$LIBCONAN" CONAN_CONFIG="$WORK/real.json" "$CPU_WORK" --wait-window 10 --tree --seconds $((seconds + 1)) \
    >/dev/null || die "bench_cpu_work --tree failed"
real=$(ls "$WORK"/real/*.cpu.*.pb.gz 2>/dev/null | head -1)
[ -n "$real" ] || die "no CPU profile from bench_cpu_work --tree"

# b. the synthetic one
big="$WORK/big.pb.gz"
"$BIG" "$big" "$samples" || die "big_profile failed"

size() { awk -v b="$(stat -c %s "$1")" 'BEGIN { if (b >= 1048576) printf "%.1f MB", b / 1048576; else printf "%.1f KB", b / 1024 }'; }
note "real: $(basename "$real"), $(size "$real"); synthetic: $samples samples, $(size "$big")"

# Whether conan flame works here (another branch brings it).
flame=0
if "$CONAN" flame "$real" -o "$WORK/probe.html" >/dev/null 2>&1 && "$CONAN" flame --folded "$real" >/dev/null 2>&1; then
    flame=1
else
    echo "flame: not available"
fi

# measure LABEL RUNS CMD... — "LABEL median_s peak_rss_kb" appended to
# $WORK/measures: hyperfine's median over RUNS and the peak RSS of one more run
# under /usr/bin/time; without hyperfine, both from RUNS runs under it.
measure() {
    local label=$1 runs=$2 median rss=0 r m kb timed_runs
    shift 2
    timed_runs=$runs
    [ -n "$HYPERFINE" ] && timed_runs=1
    for ((r = 0; r < timed_runs; r++)); do
        /usr/bin/time -f '%e %M' -o "$WORK/time" "$@" >/dev/null 2>"$WORK/err" ||
            { fail "$label: $* failed: $(head -c 300 "$WORK/err")"; return 1; }
        read -r m kb <"$WORK/time"
        echo "$m" >>"$WORK/times.$label"
        [ "$kb" -gt "$rss" ] && rss=$kb
    done
    median=$(median <"$WORK/times.$label")
    if [ -n "$HYPERFINE" ]; then # finer than /usr/bin/time's 10 ms
        "$HYPERFINE" -N --style none --runs "$runs" --export-json "$WORK/hf.json" "$*" >/dev/null 2>"$WORK/err" ||
            { fail "$label: hyperfine failed: $(head -c 300 "$WORK/err")"; return 1; }
        median=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["results"][0]["median"])' "$WORK/hf.json")
    fi
    echo "$label $median $rss" >>"$WORK/measures"
}

gobin=$(command -v go)
for which in real big; do
    file=$real runs=$ROUNDS
    [ "$which" = big ] && file=$big
    slow_runs=$runs
    [ "$which" = big ] && [ "$slow_runs" -gt 3 ] && slow_runs=3
    measure "$which.conan_top" "$runs" "$CONAN" top "$file"
    measure "$which.pprof_top" "$slow_runs" env HOME="$WORK" PPROF_TMPDIR="$WORK" "$gobin" tool pprof -top "$file"
    if [ "$flame" = 1 ]; then
        measure "$which.conan_flame" "$runs" "$CONAN" flame "$file" -o "$WORK/out.html"
        measure "$which.conan_flame_folded" "$runs" "$CONAN" flame --folded "$file"
    fi
done

[ -s "$WORK/measures" ] || die "nothing was measured"
get() { awk -v l="$1" -v c="$2" '$1 == l { print $c }' "$WORK/measures"; }
printf '# %-28s %12s %14s\n' "command (profile)" "median wall" "peak RSS"
while read -r label median rss; do
    printf '# %-28s %10.3f s %11.1f MiB\n' "$label" "$median" "$(awk -v k="$rss" 'BEGIN { print k / 1024 }')"
done <"$WORK/measures"
for which in real big; do
    c=$(get "$which.conan_top" 2) p=$(get "$which.pprof_top" 2)
    [ -n "$c" ] && [ -n "$p" ] || continue
    result 9 "$which: conan top wall" "$(awk -v v="$c" 'BEGIN { printf "%.1f", v * 1000 }')" ms -
    result 9 "$which: go tool pprof -top wall" "$(awk -v v="$p" 'BEGIN { printf "%.1f", v * 1000 }')" ms -
    result 9 "$which: conan top / pprof -top wall" "$(awk -v c="$c" -v p="$p" 'BEGIN { printf "%.3f", c / p }')" ratio "<=1"
    result 9 "$which: conan top peak RSS" "$(awk -v k="$(get "$which.conan_top" 3)" 'BEGIN { printf "%.1f", k / 1024 }')" MiB -
    result 9 "$which: go tool pprof -top peak RSS" "$(awk -v k="$(get "$which.pprof_top" 3)" 'BEGIN { printf "%.1f", k / 1024 }')" MiB -
    for f in conan_flame conan_flame_folded; do
        v=$(get "$which.$f" 2)
        [ -n "$v" ] || continue
        result 9 "$which: ${f//_/ } wall" "$(awk -v v="$v" 'BEGIN { printf "%.1f", v * 1000 }')" ms -
        result 9 "$which: ${f//_/ } peak RSS" "$(awk -v k="$(get "$which.$f" 3)" 'BEGIN { printf "%.1f", k / 1024 }')" MiB -
    done
done
exit $STATUS
