# lib.sh — shared by the integration tests: a scratch directory, a config
# writer, running a workload under the shim, and reading dumps with the real
# reader, `go tool pprof`. Each test is one behaviour; it exits 0 (pass),
# 1 (fail, with the reason on stderr) or 77 (skip, with the reason printed).
set -u

: "${LIBCONAN:?LIBCONAN must point at libconan.so}"
: "${WORKLOADS:?WORKLOADS must point at the built workloads}"

WORK=$(mktemp -d /tmp/conan-it.XXXXXX)
DUMPS="$WORK/dumps"

fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*"; exit 77; }
note() { echo "# $*"; }

# The sanitized passes (tests/meson.build, suites asan and tsan) set
# CONAN_SANITIZED=asan or tsan and LIBCONAN to "libconan-asan.so libasan.so"
# or "libconan-tsan.so libtsan.so", preloaded in that order. The sanitizers
# write to $WORK/sanitizer.{asan,ubsan,tsan}.<pid>; an error report from any
# process fails the test, and is shown, whatever the test concluded. (ASan's
# warning "failed to allocate", for a request it refuses by returning NULL as
# the allocator would, is not an error.)
SANITIZED=${CONAN_SANITIZED:-}
if [ -n "$SANITIZED" ]; then
    export ASAN_OPTIONS="${ASAN_OPTIONS:-}:log_path=$WORK/sanitizer.asan"
    export UBSAN_OPTIONS="${UBSAN_OPTIONS:-}:log_path=$WORK/sanitizer.ubsan"
    export TSAN_OPTIONS="${TSAN_OPTIONS:-}:log_path=$WORK/sanitizer.tsan"
fi
# skip_if_sanitized REASON — for what a sanitized shim cannot show (timings);
# skip_under_tsan REASON — for what ThreadSanitizer's runtime itself changes.
skip_if_sanitized() { [ -z "$SANITIZED" ] || skip "under $SANITIZED: $*"; }
skip_under_tsan() { [ "$SANITIZED" != tsan ] || skip "under tsan: $*"; }
# For tests whose forked children start a monitor thread of their own.
TSAN_FORK_LIMIT="libtsan refuses new threads in the child of a multi-threaded fork (\"starting new threads after
multi-threaded fork is not supported\"), and these children start their own monitor; with die_after_fork=0 libtsan
then fails on its own thread table (\"dup thread with used id\")"

# For tests whose forked children allocate or start their own monitor while
# the parent's threads (libconan's monitor among them) may be allocating.
ASAN_FORK_LIMIT="GCC 12's libasan does not hold its allocator's locks across fork: a child's first allocation can wait
forever for a lock another thread held at the fork (seen here: a forked child hung; a worker's monitor thread never
ran), which glibc's malloc, behind the plain build, prevents; the plain suite runs this test"
skip_forking_children_if_sanitized() {
    skip_under_tsan "$TSAN_FORK_LIMIT"
    [ "$SANITIZED" != asan ] || skip "under asan: $ASAN_FORK_LIMIT"
}

# at_exit CMD — run CMD (eval'd) when the test ends, before the scratch goes.
exit_hooks=()
at_exit() { exit_hooks+=("$1"); }
finish() {
    local status=$? hook report name
    for hook in "${exit_hooks[@]}"; do eval "$hook"; done
    for report in "$WORK"/sanitizer.*.*; do
        grep -qE 'ERROR: |runtime error: |CHECK failed|ThreadSanitizer' "$report" 2>/dev/null || continue
        name=${report#"$WORK"/sanitizer.} # asan.<pid>, ubsan.<pid>, tsan.<pid>
        echo "FAIL: ${name%%.*} report from pid ${name#*.}:" >&2
        cat "$report" >&2
        status=1
    done
    rm -rf "$WORK"
    exit $status
}
trap finish EXIT

# cpu_percent CPUS — CPUS (in CPUs: 0.05 is a twentieth of one) as the CPU
# rule's percent, which is of the CPUs the process may use.
cpu_percent() { awk -v c="$1" -v n="$(nproc)" 'BEGIN { printf "%.2f", 100 * c / n }'; }
# BUSY_ABS — the CPU rule's abs for "a busy thread": 0.05 of a CPU (use it
# with "min": 0). When another test suite shares the 2-core VM, one busy
# thread gets 0.2-0.4 of a CPU, at times 0.1 over a tick, and abs 20-30%
# of two CPUs (0.4-0.6 of a CPU) did not trip in whole runs; an idle or
# sleeping process uses ~0.001.
BUSY_ABS=$(cpu_percent 0.05)

# window_cpu PROFILE LOG — the CPU seconds each thread in LOG (lines "<name>
# <CLOCK_REALTIME ns> <thread CPU ns>", as two_threads writes them) spent
# inside the CPU profile's window (its time_nanos to time_nanos +
# duration_nanos, read by tests/bench/profile_times.py), one "<name> <s>" per
# line: what each thread really got, for tests whose machine may give them
# far less than the window's wall time, and unequal shares.
window_cpu() {
    local times
    times=$(python3 "$(dirname "$0")/../bench/profile_times.py" "$1") || fail "cannot read the times of $1"
    python3 - "$2" $times <<'PY'
import sys
log, start = sys.argv[1], float(sys.argv[2])
end = start + float(sys.argv[3])
series = {}
for line in open(log):
    name, wall, cpu = line.split()
    series.setdefault(name, []).append((float(wall), float(cpu)))
def cpu_at(points, t):
    if t <= points[0][0]: return points[0][1]
    for (w0, c0), (w1, c1) in zip(points, points[1:]):
        if t <= w1: return c0 + (c1 - c0) * (t - w0) / (w1 - w0) if w1 > w0 else c1
    return points[-1][1]
for name, points in series.items():
    print(name, "%.4f" % ((cpu_at(points, end) - cpu_at(points, start)) / 1e9))
PY
}

# cpu_quota_cgroup QUOTA_US PERIOD_US — makes a child cgroup with that CPU
# quota (v1 cpu controller, or v2 with the cpu controller), removed when the
# test ends, and sets CG to it; skips (with the reason) where that cannot be
# done. Needs root. Run a command in it with: in_cgroup CMD...
cpu_quota_cgroup() {
    [ "$(id -u)" -eq 0 ] || skip "needs root to create a cgroup"
    CG=""
    if [ -w /sys/fs/cgroup/cpu ] && [ -f /sys/fs/cgroup/cpu/cpu.cfs_quota_us ]; then
        CG=/sys/fs/cgroup/cpu/conan-test-$$
        mkdir "$CG" || skip "cannot create $CG"
        echo "$2" > "$CG/cpu.cfs_period_us"; echo "$1" > "$CG/cpu.cfs_quota_us"
    elif grep -qw cpu /sys/fs/cgroup/cgroup.controllers 2>/dev/null; then
        CG=/sys/fs/cgroup/conan-test-$$
        mkdir "$CG" || skip "cannot create $CG"
        echo "+cpu" > /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null || true
        echo "$1 $2" > "$CG/cpu.max" || { rmdir "$CG"; skip "cannot set cpu.max"; }
    else
        skip "no writable cgroup cpu controller (v1 cpu or v2 with cpu) on this machine"
    fi
    at_exit 'rmdir "$CG" 2>/dev/null'
}
in_cgroup() { sh -c 'echo $$ > "$1/cgroup.procs" && shift && exec "$@"' sh "$CG" "$@"; }

# allocator_behind ARG — for the tests whose argument "jemalloc" puts jemalloc
# behind the shim: sets BEHIND to libjemalloc's path (empty for anything
# else), skips under a sanitizer (its allocator is behind the shim then), and
# fails if jemalloc is missing.
allocator_behind() {
    BEHIND=""
    [ "${1:-glibc}" = jemalloc ] || return 0
    skip_if_sanitized "the sanitizer's allocator is behind the shim, jemalloc cannot be"
    BEHIND=$(ls /usr/lib/*/libjemalloc.so.2 2>/dev/null | head -1)
    [ -n "$BEHIND" ] || fail "libjemalloc.so.2 is not installed (scripts/setup.sh installs libjemalloc2)"
}

# write_config FILE JSON — JSON may use @DUMPS@ for the scratch dump dir.
write_config() { printf '%s\n' "${2//@DUMPS@/$DUMPS}" > "$1"; }

# under_shim CONFIG CMD... — runs CMD with the shim preloaded.
under_shim() {
    local config=$1; shift
    LD_PRELOAD="$LIBCONAN" CONAN_CONFIG="$config" "$@"
}

dumps_of_kind() { ls "$DUMPS" 2>/dev/null | grep -E "\.$1\.[0-9]{8}T[0-9]{6}\.[0-9]+\.pb\.gz$" || true; }
count_dumps() { dumps_of_kind "$1" | grep -c . || true; }

pprof() { HOME="$WORK" PPROF_TMPDIR="$WORK" go tool pprof "$@" 2>"$WORK/pprof.err"; }

# top_function FILE [SAMPLE_INDEX] — name of the first row of `pprof -top` (by flat).
top_function() {
    pprof -top -sample_index="${2:-cpu}" "$1" | awk 'found && NF >= 6 { for (i = 6; i <= NF; i++) printf "%s%s", $i, (i < NF ? " " : "\n"); exit } /flat%/ { found = 1 }'
}

# json_field LINE KEY — a scalar field of a flat JSON object (string or number).
json_field() {
    printf '%s\n' "$1" | sed -n "s/.*\"$2\":\(\"\([^\"]*\)\"\|\([-0-9.e+]*\)\).*/\2\3/p"
}

wait_for() { # wait_for SECONDS CONDITION... — polls, for setup only, never as an assertion
    local deadline=$((SECONDS + $1)); shift
    until "$@"; do [ $SECONDS -ge $deadline ] && return 1; sleep 0.05; done
}

require_go() { command -v go >/dev/null || skip "go (golang-go) is not installed; scripts/setup.sh installs it"; }

# same_output PLAIN SHIM — the run under the shim printed what the plain run
# did: PLAIN.out/.err against SHIM.out/.err.
same_output() {
    cmp -s "$1.out" "$2.out" || fail "stdout differs: '$(cat "$1.out")' vs '$(cat "$2.out")'"
    cmp -s "$1.err" "$2.err" || fail "stderr differs: '$(cat "$1.err")' vs '$(cat "$2.err")'"
}

# rule_cpu_dump — the one CPU dump, which the CPU rule must have written; prints its path.
rule_cpu_dump() {
    [ "$(count_dumps cpu)" -eq 1 ] || { cat "$DUMPS/events.jsonl" >&2; fail "want 1 cpu dump, got $(count_dumps cpu)"; }
    local file="$DUMPS/$(dumps_of_kind cpu)" event
    event=$(grep -F "\"file\":\"$file\"" "$DUMPS/events.jsonl") || fail "no event line for $file"
    [ "$(json_field "$event" reason)" = abs ] || fail "not the CPU rule's profile: $event"
    printf '%s\n' "$file"
}

# forks_during KIND LOG — how many of the children in LOG ("<pid> <fork time,
# ms since the epoch>" per line) were forked while a process not in LOG was
# sampling or writing a KIND profile: from the event's time back over the
# write (write_ms) and the window (duration_s).
forks_during() {
    python3 - "$DUMPS/events.jsonl" "$2" "$1" <<'PY'
import datetime, json, sys
kids = {int(l.split()[0]): float(l.split()[1]) for l in open(sys.argv[2])}
def ms(t): return datetime.datetime.strptime(t, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc).timestamp() * 1e3
busy = []
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e["kind"] == sys.argv[3] and e["pid"] not in kids:
        end = ms(e["time"])
        busy.append((end - e.get("write_ms", 0) - e.get("duration_s", 0) * 1e3, end))
print(sum(1 for t in kids.values() if any(a <= t <= b for a, b in busy)))
PY
}

# run_beside CONFIG CMD... — runs CMD without the shim ($WORK/plain.*) and under
# it ($WORK/shim.*): the exit status, stdout and the program's own stderr
# (all but libconan: lines) must be the same. $WORK/shim.err keeps our lines.
run_beside() {
    local config=$1 plain_rc rc; shift
    "$@" >"$WORK/plain.out" 2>"$WORK/plain.err"; plain_rc=$?
    under_shim "$config" "$@" >"$WORK/shim.out" 2>"$WORK/shim.err"; rc=$?
    [ $rc -eq $plain_rc ] || fail "exit status $rc instead of $plain_rc"
    cmp -s "$WORK/plain.out" "$WORK/shim.out" || fail "stdout changed"
    grep -v '^libconan: ' "$WORK/shim.err" | cmp -s - "$WORK/plain.err" || fail "the program's stderr changed"
}

# free_port — a TCP port on 127.0.0.1 nothing listens on now.
free_port() { local p; while :; do p=$((20000 + RANDOM % 40000)); (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }; done; }
# nginx_conf PORT WORKERS — $WORK/nginx/nginx.conf: in the foreground, a master
# and WORKERS workers answering "hello" on 127.0.0.1:PORT, logs in $WORK/nginx/logs.
nginx_conf() {
    mkdir -p "$WORK/nginx/logs"
    cat > "$WORK/nginx/nginx.conf" <<CONF
daemon off;
master_process on;
worker_processes $2;
user root;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/logs/error.log;
events { worker_connections 64; }
http {
    access_log off;
    server { listen 127.0.0.1:$1; location / { return 200 "hello\n"; } }
}
CONF
}
# agents_of DIR — the pids of the `conan agent` processes serving DIR (an
# argument "agent" and an argument DIR on their command line), one a line.
agents_of() {
    grep -lzx -- "$1" /proc/[0-9]*/cmdline 2>/dev/null | xargs -r grep -lzx -- agent 2>/dev/null | cut -d/ -f3
}
# agent_report IDLE_EXIT_S — a report section with a reporter that sends
# nothing while no dump is written (no server listens on port 9), for tests of
# the spawn itself. The shim finds conan beside libconan.so in the build tree;
# the sanitized shims are built elsewhere (tests/), so there report.agent names
# it. AGENT_PROGRAM is the conan program the shim will start.
AGENT_PROGRAM=$(dirname "${LIBCONAN%% *}")/cli/conan
[ -z "$SANITIZED" ] || AGENT_PROGRAM=$(realpath "$WORKLOADS/../cli/conan")
agent_report() {
    local agent=""
    [ -z "$SANITIZED" ] || agent=', "agent": "'"$AGENT_PROGRAM"'"'
    printf '"report": { "pyroscope": { "url": "http://127.0.0.1:9" }, "idle_exit_s": %s%s }' "$1" "$agent"
}
# process_gone PID — PID has ended (a zombie counts: an orphan's reaper may be slow).
process_gone() { local s; s=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) || return 0; [ "${s%% *}" = Z ]; }
