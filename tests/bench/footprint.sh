#!/usr/bin/env bash
# footprint.sh — figure 7: what libconan costs while it waits, what its
# profiles weigh, and what a sample costs.
#  a. RSS at idle: tests/workloads/idle (sleeps 3 s) started side by side
#     without a profiler, under libconan as shipped (interval_ms 1000 so two
#     ticks have run), libconan with heap sampling off, gperftools' CPU
#     profiler (CPUPROFILE), jemalloc alone and jemalloc with prof:true;
#     VmRSS (and RssAnon) from /proc/PID/status 2.5 s after start, ROUNDS
#     rounds, medians; the shim's figure is the difference to the plain run.
#     Target: ≤ 8 MiB.
#  b. Size on disk of a 10-s CPU profile of two busy threads: bench_cpu_work
#     --tree, whose samples nearly all have stacks of their own (a random walk
#     16 functions wide and up to 16 deep), the worst case for the encoder;
#     median of min(ROUNDS, 3) profiles. Target: ≤ 200 KiB. (--quick: 2 s.)
#  c. Unwinding cost per sample: bench_unwind_cost's median µs per walk of a
#     27-frame stack from the signal context (libconan's unwinder: the cached
#     call-frame rules, libunwind where they refuse; beside libunwind's stock
#     local unwinder), the median over ROUNDS runs. Each walk is timed in the
#     thread's CPU time, whose clock read is a system call: the figure judged
#     is the walk net of that read (the median empty interval between two
#     reads in the same handler, subtracted per sample); the gross time is
#     reported beside it. Target: ≤ 3 µs. The
#     bench also fails if any walk's frames differ from libunwind's.
#  d. CPU per monitor tick: tests/workloads/idle under libconan at interval_ms
#     10 for 3 s, the conan-monitor thread's CPU time (schedstat) per tick,
#     the median over ROUNDS runs; beside it, idle's reference thread (a
#     wake-up per 10 ms reading /proc/self/stat). Target: ≤ 150 µs (0.003% of
#     a CPU at the default 5-s interval), a figure of a quiet machine: another
#     test suite beside it makes it 100-220 µs, which is why the test suite's
#     integration/tick_cost judges the ratio to the reference instead.
#  e. What the stuck-thread watch adds to a tick: tests/workloads/stuck_threads
#     idle (64 pool threads parked in pthread_cond_wait and epoll_wait, 65
#     threads in all) under libconan at interval_ms 100, the monitor's CPU
#     time (schedstat) per run over 2 s, medians over ROUNDS: the watch off;
#     on while the parked pool sits still but is not judged yet (the first
#     stuck.after_s: per thread its syscall, stat and schedstat files, a stack
#     walk when it first sits still); on once the pool is judged idle (one
#     syscall read per thread). The figures are the differences to "off".
# usage: footprint.sh [--quick] [--rounds N]
. "$(dirname "$0")/lib.sh"
IDLE="$WORKLOADS/idle"
CPU_WORK="$WORKLOADS/bench_cpu_work"
UNWIND="$WORKLOADS/bench_unwind_cost"
for w in "$IDLE" "$CPU_WORK" "$UNWIND"; do [ -x "$w" ] || die "$w is not built"; done

# a. RSS at idle
names=(plain conan conan_nosample)
if [ -n "$PROFILER" ]; then names+=(gperf_cpu); else skip_result 7 gperf_cpu "$(peer_missing libprofiler.so.0 libgoogle-perftools4)"; fi
if [ -n "$JEMALLOC" ]; then names+=(jemalloc jemalloc_prof); else skip_result 7 jemalloc_prof "$(peer_missing libjemalloc.so.2 libjemalloc2)"; fi
printf '{ "dump_dir": "%s/d", "interval_ms": 1000 }\n' "$WORK" > "$WORK/default.json"
printf '{ "dump_dir": "%s/d", "interval_ms": 1000, "heap": { "sample_bytes": 0 } }\n' "$WORK" > "$WORK/nosample.json"
start_idle() { # start_idle NAME — idle itself in the background (not a subshell): sets $!
    local vars=()
    case $1 in
    conan) vars=(LD_PRELOAD="$LIBCONAN" CONAN_CONFIG="$WORK/default.json") ;;
    conan_nosample) vars=(LD_PRELOAD="$LIBCONAN" CONAN_CONFIG="$WORK/nosample.json") ;;
    gperf_cpu) vars=(LD_PRELOAD="$PROFILER" CPUPROFILE="$WORK/gperf.prof") ;;
    jemalloc) vars=(LD_PRELOAD="$JEMALLOC") ;;
    jemalloc_prof) vars=(LD_PRELOAD="$JEMALLOC" MALLOC_CONF=prof:true) ;;
    esac
    env "${vars[@]+"${vars[@]}"}" "$IDLE" 3000 >/dev/null 2>"$WORK/idle.$1.err" &
}
status_kib() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
for ((r = 1; r <= ROUNDS; r++)); do
    declare -A pid=()
    for name in "${names[@]}"; do start_idle "$name"; pid[$name]=$!; done
    sleep 2.5
    for name in "${names[@]}"; do
        rss=$(status_kib "${pid[$name]}" VmRSS) anon=$(status_kib "${pid[$name]}" RssAnon)
        [ -n "$rss" ] || { fail "$name: idle exited early"; continue; }
        echo "$rss $anon" >> "$WORK/rss.$name"
    done
    for name in "${names[@]}"; do wait "${pid[$name]}" || fail "$name: idle failed"; done
done
rss_plain=$(awk '{ print $1 }' "$WORK/rss.plain" | median)
anon_plain=$(awk '{ print $2 }' "$WORK/rss.plain" | median)
declare -A base=([conan]=plain [conan_nosample]=plain [gperf_cpu]=plain [jemalloc]=plain [jemalloc_prof]=jemalloc)
for name in "${names[@]}"; do
    rss=$(awk '{ print $1 }' "$WORK/rss.$name" | median)
    anon=$(awk '{ print $2 }' "$WORK/rss.$name" | median)
    note "$name at idle: VmRSS $rss KiB, RssAnon $anon KiB (medians of $ROUNDS)"
    result 7 "$name: idle VmRSS" "$rss" KiB -
    [ "$name" = plain ] && continue
    b=${base[$name]}
    added=$(awk -v a="$rss" -v p="$(awk '{ print $1 }' "$WORK/rss.$b" | median)" 'BEGIN { printf "%.2f", (a - p) / 1024 }')
    target=-
    [ "$name" = conan ] && target="<=8"
    result 7 "$name: idle RSS added over $b" "$added" MiB "$target"
done
[ -n "$anon_plain" ] && [ -n "$rss_plain" ] || fail "no plain RSS"

# b. a 10-s, 2-thread CPU profile on disk
seconds=10
[ "$QUICK" = 1 ] && seconds=2
runs=$((ROUNDS < 3 ? ROUNDS : 3))
for ((r = 1; r <= runs; r++)); do
    dir="$WORK/p.$r"
    mkdir -p "$dir"
    printf '{ "dump_dir": "%s", "interval_ms": 100, "cpu": { "abs": 0, "window": 0, "profile_seconds": %d } }\n' \
        "$dir" "$seconds" > "$dir.json"
    touch "$dir/conan.trigger"
    LD_PRELOAD="$LIBCONAN" CONAN_CONFIG="$dir.json" "$CPU_WORK" --wait-window 10 --tree --seconds $((seconds + 1)) >/dev/null \
        || { fail "bench_cpu_work --tree failed"; continue; }
    event=$(grep '"kind":"cpu"' "$dir/events.jsonl" 2>/dev/null | head -1)
    file=$(json_field "$event" file)
    [ -n "$file" ] && [ -f "$file" ] || { fail "no CPU profile from the 2-thread run: $event"; continue; }
    note=$(json_field "$event" note)
    [ -z "$note" ] || fail "the profile window ended early: $note"
    stacks=$(pprof -raw -symbolize=none "$file" | awk '/^Samples/ { on = 1; next } /^Locations/ { on = 0 } on && /^ +[0-9]+ +[0-9]+: / { n++ } END { print n + 0 }')
    echo "$(stat -c %s "$file") $(json_field "$event" samples) $(json_field "$event" duration_s) $stacks" >> "$WORK/sizes"
done
if [ -s "$WORK/sizes" ]; then
    bytes=$(awk '{ print $1 }' "$WORK/sizes" | median)
    note "a ${seconds}-s profile of two busy threads, every stack its own: $(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1024 }') KiB (runs: bytes, samples, seconds, distinct stacks: $(paste -sd, "$WORK/sizes"))"
    result 7 "${seconds}-s 2-thread CPU profile on disk" "$(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1024 }')" KiB "<=200"
    result 7 "bytes per sample in it" "$(awk '{ print $1 / $2 }' "$WORK/sizes" | median | awk '{ printf "%.1f", $1 }')" B -
else
    fail "no 2-thread profile measured"
fi

# c. unwinding cost per sample
for ((r = 1; r <= ROUNDS; r++)); do
    out=$("$UNWIND") || fail "bench_unwind_cost failed: $out"
    printf '%s\n' "$out" | sed -n 's/.*median per walk \([0-9.]*\) us (libconan) vs \([0-9.]*\) us.*net of the clock reads \([-0-9.]*\) us (the reads: \([0-9.]*\) us).*served by cached rules \([0-9.]*\)%.*/\1 \2 \5 \3 \4/p' >> "$WORK/unwind"
done
[ -s "$WORK/unwind" ] || die "bench_unwind_cost printed no figure"
ours=$(awk '{ print $1 }' "$WORK/unwind" | median)
stock=$(awk '{ print $2 }' "$WORK/unwind" | median)
served=$(awk '{ print $3 }' "$WORK/unwind" | median)
net=$(awk '{ print $4 }' "$WORK/unwind" | median)
reads=$(awk '{ print $5 }' "$WORK/unwind" | median)
note "unwinding a 27-frame stack from a signal: libconan $ours µs as timed, $net µs without the timing's own clock reads ($reads µs) ($served% of samples by the cached rules), libunwind's local unwinder $stock µs (medians of $ROUNDS runs of bench_unwind_cost)"
result 7 "unwind per sample (libconan, net of the clock reads)" "$net" µs "<=3"
result 7 "unwind per sample (libconan, as timed)" "$ours" µs -
result 7 "unwind per sample (libunwind local)" "$stock" µs -

# d. CPU per monitor tick
printf '{ "dump_dir": "%s/d", "interval_ms": 10 }\n' "$WORK" > "$WORK/tick.json"
tick_ms=3000
[ "$QUICK" = 1 ] && tick_ms=1000
for ((r = 1; r <= ROUNDS; r++)); do
    out=$(LD_PRELOAD="$LIBCONAN" CONAN_CONFIG="$WORK/tick.json" "$IDLE" $tick_ms reference) || { fail "idle reference failed: $out"; continue; }
    read -r _ monitor_us runs reference_us wakeups <<<"$out"
    [ "${monitor_us:-0}" -gt 0 ] && [ "${runs:-0}" -gt 0 ] || { fail "no conan-monitor thread measured: $out"; continue; }
    ticks=$((runs < tick_ms / 10 ? runs : tick_ms / 10))
    awk -v m="$monitor_us" -v t="$ticks" -v r="$reference_us" -v w="$wakeups" 'BEGIN { printf "%.1f %.1f\n", m / t, r / w }' >> "$WORK/tick"
done
[ -s "$WORK/tick" ] || die "no monitor tick measured"
tick=$(awk '{ print $1 }' "$WORK/tick" | median)
reference=$(awk '{ print $2 }' "$WORK/tick" | median)
note "a monitor tick: $tick µs of CPU; a wake-up reading /proc/self/stat: $reference µs (medians of $ROUNDS runs of idle at interval_ms 10)"
result 7 "CPU per monitor tick" "$tick" µs "<=150"
result 7 "a wake-up reading /proc/self/stat, beside it" "$reference" µs -

# e. the stuck watch on 64 parked threads
STUCK="$WORKLOADS/stuck_threads"
[ -x "$STUCK" ] || die "$STUCK is not built"
printf '{ "dump_dir": "%s/d", "interval_ms": 100, "stuck": { "after_s": 2 } }\n' "$WORK" > "$WORK/stuck_steady.json"
printf '{ "dump_dir": "%s/d", "interval_ms": 100 }\n' "$WORK" > "$WORK/stuck_early.json"
printf '{ "dump_dir": "%s/d", "interval_ms": 100, "stuck": { "enable": false } }\n' "$WORK" > "$WORK/stuck_off.json"
monitor_schedstat() { # PID — "<CPU ns> <runs>" of its conan-monitor thread
    local t
    for t in /proc/"$1"/task/*; do
        [ "$(cat "$t/comm" 2>/dev/null)" = conan-monitor ] && { awk '{ print $1, $3 }' "$t/schedstat"; return; }
    done
}
# stuck_tick MODE FROM_S TO_S — µs of monitor CPU per run between those times of the run
stuck_tick() {
    # It would run 30 s; it is stopped once measured (a loaded machine may
    # start it late, and a workload that ended has no monitor to read).
    LD_PRELOAD="$LIBCONAN" CONAN_CONFIG="$WORK/stuck_$1.json" "$STUCK" idle 30 >/dev/null &
    local pid=$! cpu0 runs0 cpu1 runs1
    sleep "$2"
    read -r cpu0 runs0 <<<"$(monitor_schedstat $pid)"
    sleep $(($3 - $2))
    read -r cpu1 runs1 <<<"$(monitor_schedstat $pid)"
    kill $pid 2>/dev/null
    wait $pid 2>/dev/null
    [ -n "${cpu0:-}" ] && [ -n "${cpu1:-}" ] && [ "${runs1:-0}" -gt "${runs0:-0}" ] \
        || { fail "no monitor measured ($1): '${cpu0:-} ${runs0:-}' then '${cpu1:-} ${runs1:-}'"; return; }
    awk -v c=$((cpu1 - cpu0)) -v n=$((runs1 - runs0)) 'BEGIN { printf "%.1f\n", c / n / 1000 }' >> "$WORK/stuck.$1"
}
for ((r = 1; r <= ROUNDS; r++)); do
    stuck_tick off 2 4         # the pool parked at 1.5 s
    stuck_tick early 2 4       # parked, sitting still, not judged yet (stuck.after_s 30)
    stuck_tick steady 5 7      # judged idle at ~3.5 s (stuck.after_s 2): one read per thread
done
for m in off early steady; do [ -s "$WORK/stuck.$m" ] || die "no stuck-watch tick measured ($m)"; done
off=$(median < "$WORK/stuck.off") early=$(median < "$WORK/stuck.early") steady=$(median < "$WORK/stuck.steady")
note "a tick with 65 threads: $off µs without the stuck watch; with it $early µs while the pool sits still unjudged, $steady µs once it is judged idle (medians of $ROUNDS runs, interval_ms 100)"
added() { awk -v a="$1" -v b="$off" 'BEGIN { printf "%.1f", a - b }'; }
result 7 "stuck watch per tick, 65 threads, judged idle" "$(added "$steady")" µs -
result 7 "stuck watch per tick, 65 threads, before stuck.after_s" "$(added "$early")" µs -
result 7 "the judged figure per thread, as a share of a CPU at the 5-s tick" "$(awk -v a="$(added "$steady")" 'BEGIN { printf "%.5f", a / 65 / 5e6 * 100 }')" % -
exit $STATUS
