# shellcheck shell=bash
# lib.sh — shared by the figure scripts that scripts/bench.sh runs: options
# (--quick, --rounds N), a scratch directory, medians, the result lines, skips
# with a reason, and where the peers' libraries and tools are.
#
# Every figure prints human lines starting with "# " and one machine-readable
# line per figure value, tab-separated:
#     FIGURE  NAME  VALUE  UNIT  TARGET  VERDICT
# TARGET is "<=X", ">=X", "A..B" or "-" (no target: a peer's figure or a
# detail); VERDICT is met, missed, info or skip (a peer that cannot run, with a
# "SKIP: reason" line before it). Under --quick the targets are printed but not
# judged (verdict "quick"): one short round is only a smoke run.
#
# A script exits 1 when something that must work did not (a crash, a missing
# tool libconan itself needs, no profile where one was due), 0 otherwise,
# whatever the verdicts.
set -u

: "${LIBCONAN:?LIBCONAN must point at libconan.so}"
: "${WORKLOADS:?WORKLOADS must point at the built workloads (build/tests)}"

QUICK=0
ROUNDS=${DEFAULT_ROUNDS:-5}   # a script may set DEFAULT_ROUNDS before sourcing this
ARGS=()
while [ $# -gt 0 ]; do
    case $1 in
    --quick) QUICK=1 ;;
    --rounds) ROUNDS=$2; shift ;;
    *) ARGS+=("$1") ;;
    esac
    shift
done
[ "$QUICK" = 1 ] && ROUNDS=1
case $ROUNDS in '' | *[!0-9]* | 0) echo "FAIL: --rounds wants a positive number, got '$ROUNDS'" >&2; exit 1 ;; esac

WORK=$(mktemp -d /tmp/conan-bench.XXXXXX)
cleanup_hooks=()
cleanup() {
    local h
    for h in "${cleanup_hooks[@]}"; do eval "$h"; done
    rm -rf "$WORK"
}
trap cleanup EXIT

STATUS=0
fail() { echo "FAIL: $*" >&2; STATUS=1; }
die() { echo "FAIL: $*" >&2; exit 1; }
note() { echo "# $*"; }

# median — of the numbers on stdin, one per line (the mean of the middle two
# for an even count).
median() { sort -g | awk 'NF { v[++n] = $1 } END { if (!n) exit 1; print (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2 }'; }

# result FIGURE NAME VALUE UNIT TARGET — the machine-readable line, judged
# against TARGET unless --quick or TARGET is "-".
result() {
    local fig=$1 name=$2 value=$3 unit=$4 target=${5:--} verdict
    if [ "$target" = - ]; then
        verdict=info
    elif [ "$QUICK" = 1 ]; then
        verdict=quick
    else
        verdict=$(awk -v v="$value" -v t="$target" 'BEGIN {
            if (t ~ /^<=/) ok = v + 0 <= substr(t, 3) + 0
            else if (t ~ /^>=/) ok = v + 0 >= substr(t, 3) + 0
            else { split(t, r, /\.\./); ok = v + 0 >= r[1] + 0 && v + 0 <= r[2] + 0 }
            print ok ? "met" : "missed" }')
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$fig" "$name" "$value" "$unit" "$target" "$verdict"
}

# skip_result FIGURE NAME REASON — a figure that cannot be measured here.
skip_result() {
    echo "SKIP: $2: $3"
    printf '%s\t%s\t-\t-\t-\tskip\n' "$1" "$2"
}

# pprof ARGS... — go tool pprof with its scratch files kept in $WORK.
pprof() { HOME="$WORK" PPROF_TMPDIR="$WORK" go tool pprof "$@" 2>>"$WORK/pprof.err"; }
command -v go >/dev/null || die "go (golang-go) is not installed; scripts/setup.sh installs it"

# json_field LINE KEY — a scalar field of a flat JSON object.
json_field() { printf '%s\n' "$1" | sed -n "s/.*\"$2\":\(\"\([^\"]*\)\"\|\([-0-9.e+]*\)\).*/\2\3/p"; }

# The peers, from Debian packages (scripts/setup.sh): empty when missing.
libdir_of() { ls /usr/lib/*/"$1" 2>/dev/null | head -1; }
JEMALLOC=$(libdir_of libjemalloc.so.2)
TCMALLOC=$(libdir_of libtcmalloc.so.4)
PROFILER=$(libdir_of libprofiler.so.0)
HEAPTRACK=$(command -v heaptrack || true)
JEPROF=$(command -v jeprof || true)
# BENCH_NO_PEERS=1 runs as if none were installed (checks the skips).
if [ "${BENCH_NO_PEERS:-0}" = 1 ]; then JEMALLOC="" TCMALLOC="" PROFILER="" HEAPTRACK="" JEPROF=""; fi
peer_missing() { # peer_missing WHAT PACKAGE — the SKIP reason
    echo "$1 is not installed (Debian package $2; scripts/setup.sh installs it)"
}

# cpu_seconds_of PID — user + system CPU seconds of a running process.
cpu_seconds_of() {
    sed 's/.*) //' "/proc/$1/stat" | awk -v t="$(getconf CLK_TCK)" '{ printf "%.3f\n", ($12 + $13) / t }'
}

# sigprof_timer_armed PID — a POSIX timer delivering SIGPROF (27 on Linux)
# exists in the process: libconan's window is open.
sigprof_timer_armed() { grep -q "^signal: $(kill -l PROF 2>/dev/null || echo 27)/" "/proc/$1/timers" 2>/dev/null; }
