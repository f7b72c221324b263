#!/usr/bin/env bash
# A real server: Debian's redis-server (stripped, linked -rdynamic, on the
# system libjemalloc) under the shim, on a free loopback port, no persistence.
#  a. SORT from four clients trips the CPU rule; the profile, read without
#     pprof's own symbolization, names redis's functions: sortCommandGeneric
#     under most samples, one of redis's .dynsym functions among the top five.
#  b. DEBUG POPULATE trips the heap rule (read from jemalloc); redis's
#     allocation sites lead inuse_space and debugCommand is under most of it.
#     Once the data set is complete an on-demand heap profile's in-use total
#     is compared with INFO's used_memory.
#  c. Requests succeed while profiles are taken; SHUTDOWN NOSAVE exits 0 with
#     nothing from libconan on stderr.
#  d. GET/SET with the shim idle against a plain redis, seven runs each,
#     interleaved: the medians of the runs' ratios of throughput (only a
#     gross slowdown fails, it is noisy here) and of redis's CPU time per
#     request (under 1.3x).
. "$(dirname "$0")/lib.sh"
skip_if_sanitized "redis's allocations then go to the sanitizer's allocator, which tops its profiles and replaces the jemalloc this test reads"
require_go
redis_server=$(command -v redis-server) || skip "redis-server is not installed; scripts/setup.sh installs it"
command -v redis-cli >/dev/null && command -v redis-benchmark >/dev/null \
    || skip "redis-tools is not installed; scripts/setup.sh installs it"
command -v nm >/dev/null || fail "nm (binutils) is missing; scripts/setup.sh installs it"

running=()   # our servers and clients still running, ended on exit
forget() { local p keep=(); for p in "${running[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done; running=("${keep[@]}"); }
trap 'for p in "${running[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$WORK"' EXIT

# rc PORT ARGS... — one redis-cli request, bounded in time.
rc() { local port=$1; shift; timeout 20 redis-cli -p "$port" "$@"; }
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
answers() { [ "$(rc "$1" PING 2>/dev/null)" = PONG ] || ! kill -0 "$2" 2>/dev/null; }

# start_redis NAME [CONFIG] — redis-server in $WORK/NAME (log and err there),
# under the shim when CONFIG is given; sets $port and $pid once it answers.
# A port taken between our check and redis's bind is retried.
start_redis() {
    local name=$1 config=${2:-} try
    local preload=()
    [ -n "$config" ] && preload=(LD_PRELOAD="$LIBCONAN" CONAN_CONFIG="$config")
    mkdir -p "$WORK/$name"
    for try in 1 2 3 4 5; do
        port=$((20000 + RANDOM % 40000))
        port_in_use "$port" && continue
        env "${preload[@]}" "$redis_server" --port "$port" --bind 127.0.0.1 --save "" --appendonly no \
            --daemonize no --dir "$WORK/$name" --enable-debug-command local \
            >"$WORK/$name/log" 2>"$WORK/$name/err" &
        pid=$!
        running+=("$pid")
        wait_for 15 answers "$port" "$pid" || fail "$name: redis did not answer within 15 s"
        kill -0 "$pid" 2>/dev/null && return 0
        wait "$pid"; forget "$pid"
        grep -q "Address already in use" "$WORK/$name/log" || { cat "$WORK/$name/log" "$WORK/$name/err" >&2; fail "$name: redis exited at start"; }
    done
    fail "$name: no free port after 5 tries"
}

# shutdown_redis NAME PORT PID — SHUTDOWN NOSAVE, then exit status 0, a clean
# log and no libconan line on stderr.
shutdown_redis() {
    rc "$2" SHUTDOWN NOSAVE >/dev/null 2>&1
    wait_for 15 eval "! kill -0 $3 2>/dev/null" || fail "$1: redis still running 15 s after SHUTDOWN NOSAVE"
    wait "$3"; local status=$?
    forget "$3"
    [ "$status" -eq 0 ] || { tail -5 "$WORK/$1/log" >&2; fail "$1: redis exited with status $status"; }
    grep -q "ready to exit, bye bye" "$WORK/$1/log" || fail "$1: no clean shutdown in the log"
    ! grep -q "libconan:" "$WORK/$1/err" || fail "$1: libconan complained: $(cat "$WORK/$1/err")"
}

# The functions redis-server defines in .dynsym (where -rdynamic put them).
nm -D --defined-only "$(readlink -f "$redis_server")" | awk '$2 ~ /^[TtWw]$/ { print $3 }' | sort -u >"$WORK/redis.functions"
[ "$(grep -c . "$WORK/redis.functions")" -gt 1000 ] || fail "redis-server exports only $(grep -c . "$WORK/redis.functions") functions"

# pprof reading only the names the shim wrote: -symbolize=none.
top_flat() { pprof -top -symbolize=none -sample_index="$2" "$1" | awk 'found && NF >= 6 { $1 = $2 = $3 = $4 = $5 = ""; sub(/^ +/, ""); print } /flat%/ { found = 1 }' | head -"$3"; }
cum_percent() { # cum_percent FILE SAMPLE_INDEX FUNCTION — its cum%, 0 if absent
    pprof -top -cum -symbolize=none -sample_index="$2" "$1" | awk -v f="$3" '$6 == f && NF == 6 { sub(/%$/, "", $5); print $5; found = 1; exit } END { if (!found) print 0 }'
}
redis_functions_among() { grep -Fxf "$WORK/redis.functions" || true; }
event_for() { grep -F "\"file\":\"$1\"" "$DUMPS/events.jsonl"; }

# The CPU rule trips at 0.1 of a CPU for two 200-ms ticks: SORT from four
# clients keeps redis over it even when another test suite shares the machine
# (at 0.3 of a CPU, redis beside one did not trip in 40 s), while redis's
# start-up (~30 ms of CPU) and filling the list (~10 ms) cannot.
cpu_abs=$(cpu_percent 0.1)
# app: the default is the executable's base name, and redis-server is a
# symbolic link to redis-check-rdb.
write_config "$WORK/c.json" '{ "app": "redis-server", "interval_ms": 200, "dump_dir": "@DUMPS@",
  "cpu": { "min": 0, "abs": '"$cpu_abs"', "window": 0, "sustain": 2, "cooldown_s": 600, "profile_seconds": 5 },
  "memory": { "enable": false },
  "heap": { "min": 0, "abs": 48, "window": 0, "cooldown_s": 600, "sample_bytes": 65536 } }'
start_redis main "$WORK/c.json"
p1=$port pid1=$pid

# a. CPU: SORT of a 20000-element list, four clients; probes meanwhile.
# One RPUSH of all 20000 (~10 ms of redis's CPU), so that filling the list
# cannot hold the rule's level for two ticks (an EVAL loop took ~20 ms).
# shellcheck disable=SC2046 # one argument per element
[ "$(rc "$p1" RPUSH biglist $(awk 'BEGIN { for (i = 1; i <= 20000; i++) print (i * 7919) % 100003 }'))" = 20000 ] \
    || fail "could not fill the list"
redis-benchmark -p "$p1" -c 4 -n 100000000 -q SORT biglist LIMIT 0 1 >/dev/null 2>"$WORK/sort.err" &
load=$!
running+=("$load")
probes=0
deadline=$((SECONDS + 40))
until [ "$(count_dumps cpu)" -ge 1 ]; do
    [ $SECONDS -lt $deadline ] || { cat "$DUMPS/events.jsonl" >&2 2>/dev/null; fail "no CPU profile within 40 s of SORT load"; }
    probes=$((probes + 1))
    reply=$(rc "$p1" SET "probe:$probes" "$probes" 2>&1) || fail "SET failed during the CPU phase (probe $probes, status $?): $reply"
    [ "$reply" = OK ] || fail "SET failed during the CPU phase (probe $probes): $reply"
    reply=$(rc "$p1" GET "probe:$probes" 2>&1) || fail "GET failed during the CPU phase (probe $probes, status $?): $reply"
    [ "$reply" = "$probes" ] || fail "GET failed during the CPU phase (probe $probes): $reply"
done
kill "$load"; wait "$load" 2>/dev/null; forget "$load"
! grep -qi error "$WORK/sort.err" || fail "redis-benchmark SORT: $(head -3 "$WORK/sort.err")"
cpu_file="$DUMPS/$(dumps_of_kind cpu | head -1)"
wait_for 5 event_for "$cpu_file" >/dev/null || fail "no event line for $cpu_file"
event=$(event_for "$cpu_file")
[ "$(json_field "$event" reason)" = abs ] && [ "$(json_field "$event" metric)" = cpu ] || fail "CPU profile not from the CPU rule: $event"
# Samples against the CPU redis got in the window (a loaded machine gives it
# less than the 5 s): at least 70% of 100 Hz of it, and enough of them (20)
# for the checks on the stacks below to mean something.
samples=$(json_field "$event" samples)
cpu_s=$(json_field "$event" cpu_s)
awk -v n="$samples" -v c="$cpu_s" 'BEGIN { exit !(n >= 0.7 * 100 * c) }' || fail "only $samples samples over $cpu_s CPU-seconds at 100 Hz"
[ "$samples" -ge 20 ] || fail "only $samples samples in a 5-s window ($cpu_s CPU-seconds): too few to judge the stacks"
sort_cum=$(cum_percent "$cpu_file" cpu sortCommandGeneric)
top=$(top_flat "$cpu_file" cpu 5)
note "CPU: $samples samples over $cpu_s CPU-s, $probes SET+GET probes answered meanwhile; sortCommandGeneric cum ${sort_cum}%; top 5 flat: $(printf '%s\n' "$top" | paste -sd, -)"
awk -v c="$sort_cum" 'BEGIN { exit !(c >= 50) }' || { pprof -top -cum -symbolize=none "$cpu_file" >&2; fail "sortCommandGeneric is under ${sort_cum}% of the samples"; }
[ -n "$(printf '%s\n' "$top" | redis_functions_among)" ] || { pprof -top -symbolize=none "$cpu_file" >&2; fail "no redis function among the top 5 by flat CPU"; }

# b. Heap: 300000 keys of 200 bytes; the heap rule trips while they are made.
[ "$(rc "$p1" DEBUG POPULATE 300000 key 200)" = OK ] || fail "DEBUG POPULATE failed"
wait_for 10 grep -q '"kind":"heap"' "$DUMPS/events.jsonl" || fail "the heap rule did not trip"
event=$(grep '"kind":"heap"' "$DUMPS/events.jsonl" | head -1)
[ "$(json_field "$event" reason)" = abs ] && [ "$(json_field "$event" metric)" = heap ] || fail "heap profile not from the heap rule: $event"
heap_file=$(json_field "$event" file)
pprof -raw -symbolize=none "$heap_file" | grep -q "heap in use: .*(jemalloc, allocator jemalloc)" \
    || fail "heap not read from jemalloc: $(pprof -raw -symbolize=none "$heap_file" | grep 'heap in use')"
top=$(top_flat "$heap_file" inuse_space 5)
debug_cum=$(cum_percent "$heap_file" inuse_space debugCommand)
note "heap trip at $(json_field "$event" value) MiB: debugCommand cum ${debug_cum}%; top 5 inuse_space: $(printf '%s\n' "$top" | paste -sd, -)"
[ -n "$(printf '%s\n' "$top" | redis_functions_among)" ] || { pprof -top -symbolize=none -sample_index=inuse_space "$heap_file" >&2; fail "no redis function among the top 5 by inuse_space"; }
awk -v c="$debug_cum" 'BEGIN { exit !(c >= 50) }' || { pprof -top -cum -symbolize=none -sample_index=inuse_space "$heap_file" >&2; fail "debugCommand holds only ${debug_cum}% of inuse_space"; }
[ "$(rc "$p1" STRLEN key:123)" = 200 ] && [ "$(rc "$p1" GETRANGE key:299999 0 11)" = value:299999 ] || fail "populated keys not served"

# The data set is complete and nothing writes: an on-demand heap profile's
# in-use estimate against redis's own count (which includes jemalloc's size
# class rounding, so the estimate of requested bytes is somewhat lower).
used=$(rc "$p1" INFO memory | tr -d '\r' | sed -n 's/^used_memory://p')
touch "$DUMPS/conan.trigger.$pid1"
manual_done() { [ "$(grep -c '"reason":"manual"' "$DUMPS/events.jsonl")" -ge 5 ]; }
wait_for 20 manual_done || { cat "$DUMPS/events.jsonl" >&2; fail "on-demand request: want cpu, heap, threadcreate, threads and mutex profiles"; }
event=$(grep '"reason":"manual"' "$DUMPS/events.jsonl" | grep '"kind":"heap"')
manual_heap=$(json_field "$event" file)
estimate=$(pprof -top -symbolize=none -sample_index=inuse_space -unit=B "$manual_heap" | sed -n 's/.* of \([0-9]*\)B total.*/\1/p')
ratio=$(awk -v e="$estimate" -v u="$used" 'BEGIN { printf "%.3f", e / u }')
note "after POPULATE: used_memory $used, inuse_space estimate $estimate (ratio $ratio)"
awk -v r="$ratio" 'BEGIN { exit !(r >= 0.7 && r <= 1.15) }' || fail "inuse_space estimate $estimate is not within [0.7, 1.15] of used_memory $used"
threads_file=$(json_field "$(grep '"reason":"manual"' "$DUMPS/events.jsonl" | grep '"kind":"threads"')" file)
pprof -tags -symbolize=none "$threads_file" | grep -q bio_lazy_free || fail "redis's bio_lazy_free thread missing from the threads profile"
# The window's wall profile: redis's idle background threads wait on a futex.
wall_done() { grep '"reason":"manual"' "$DUMPS/events.jsonl" | grep -q '"kind":"wall"'; }
wait_for 20 wall_done || { cat "$DUMPS/events.jsonl" >&2; fail "on-demand request: no wall profile"; }
wall_file=$(json_field "$(grep '"reason":"manual"' "$DUMPS/events.jsonl" | grep '"kind":"wall"')" file)
pprof -tags -symbolize=none -tagfocus=syscall=futex "$wall_file" | grep -q bio_lazy_free \
    || fail "the wall profile does not show bio_lazy_free waiting on a futex"
# The mutex profile of a running redis (its bio threads' mutexes), read by pprof.
mutex_file=$(json_field "$(grep '"reason":"manual"' "$DUMPS/events.jsonl" | grep '"kind":"mutex"')" file)
pprof -raw -symbolize=none "$mutex_file" | grep -q "^contentions/count delay/nanoseconds" ||
    fail "no readable mutex profile: $mutex_file"
! grep -q '"error"' "$DUMPS/events.jsonl" || fail "an event reports an error: $(grep '"error"' "$DUMPS/events.jsonl")"

# c. Clean shutdown.
shutdown_redis main "$p1" "$pid1"

# d. Throughput, shim idle (rules that cannot trip, heap sampling as shipped)
# against no shim: redis-benchmark GET and SET, 50 clients, A B B A A B ...
write_config "$WORK/idle.json" '{ "app": "redis-idle", "dump_dir": "'"$WORK/idle"'", "cpu": { "abs": 0, "window": 0 } }'
start_redis idle "$WORK/idle.json"; pa=$port pida=$pid
start_redis plain; pb=$port pidb=$pid
# Requests per second swing by 2x here when other work shares the machine, so
# only a gross slowdown fails on them; redis's CPU time per request (from its
# threads' schedstat, in ns) does not count time spent descheduled and guards
# the shim's cost more tightly. Both are judged on the median over rounds of
# the ratio within a round, the two servers measured back to back (first one,
# then the other, in turn): under load the CPU per request itself moves by
# 1.5x from one minute to the next, which a ratio of two medians took for
# the shim's cost (1.26 once, against a bound of 1.3). ROUNDS rounds of 5000
# requests of each kind per run: at 2000-12000 requests/s beside another
# suite, 5 rounds of 100000 made the test outlast its 180 s.
ROUNDS=7
REQUESTS=5000
cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ ns += $1 } END { printf "%.0f\n", ns }'; }
bench() { # bench PORT PID — SET and GET requests per second, redis's CPU µs per request
    local before after
    before=$(cpu_ns "$2")
    redis-benchmark -p "$1" -c 50 -n $REQUESTS -t set,get --csv >"$WORK/bench.out" 2>"$WORK/bench.err" || fail "redis-benchmark failed: $(cat "$WORK/bench.err")"
    after=$(cpu_ns "$2")
    ! grep -qi error "$WORK/bench.err" || fail "redis-benchmark: $(head -3 "$WORK/bench.err")"
    awk -F'"' -v cpu=$((after - before)) -v n=$((2 * REQUESTS)) '$2 == "SET" { s = $4 } $2 == "GET" { g = $4 }
        END { if (s && g) printf "%.0f %.0f %.2f\n", s, g, cpu / 1e3 / n; else exit 1 }' "$WORK/bench.out" \
        || fail "unreadable benchmark output: $(cat "$WORK/bench.out")"
}
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
for ((round = 1; round <= ROUNDS; round++)); do
    if [ $((round % 2)) = 1 ]; then
        bench "$pa" "$pida" >>"$WORK/with"; bench "$pb" "$pidb" >>"$WORK/without"
    else
        bench "$pb" "$pidb" >>"$WORK/without"; bench "$pa" "$pida" >>"$WORK/with"
    fi
done
summary() { # summary FILE — medians: SET, GET, CPU µs per request
    printf '%s %s %s' "$(cut -d' ' -f1 "$1" | median)" "$(cut -d' ' -f2 "$1" | median)" "$(cut -d' ' -f3 "$1" | median)"
}
read -r set_w get_w cpu_w <<<"$(summary "$WORK/with")"
read -r set_o get_o cpu_o <<<"$(summary "$WORK/without")"
# per round: (SET+GET)/2 with / without, CPU per request with / without
paste -d' ' "$WORK/with" "$WORK/without" | awk '{ printf "%.3f %.3f\n", ($1 + $2) / ($4 + $5), $3 / $6 }' >"$WORK/paired"
ratio=$(cut -d' ' -f1 "$WORK/paired" | median)
cpu_ratio=$(cut -d' ' -f2 "$WORK/paired" | median)
note "requests/s, 50 clients, medians of $ROUNDS interleaved runs: shim idle SET $set_w GET $get_w, without SET $set_o GET $get_o; (SET+GET)/2 ratio $ratio (median of the rounds' ratios)"
note "redis CPU per request: shim idle $cpu_w µs, without $cpu_o µs (ratio $cpu_ratio, median of the rounds' ratios)"
note "runs (SET GET µs), shim idle: $(paste -sd, "$WORK/with"); without: $(paste -sd, "$WORK/without")"
awk -v r="$ratio" 'BEGIN { exit !(r > 0.5) }' || fail "throughput with the idle shim is $ratio of without"
awk -v r="$cpu_ratio" 'BEGIN { exit !(r < 1.3) }' || fail "redis spends $cpu_ratio times the CPU per request with the idle shim"
[ ! -e "$WORK/idle/events.jsonl" ] || fail "the idle shim took profiles: $(cat "$WORK/idle/events.jsonl")"
shutdown_redis idle "$pa" "$pida"
shutdown_redis plain "$pb" "$pidb"
exit 0
