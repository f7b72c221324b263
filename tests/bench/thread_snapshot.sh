#!/usr/bin/env bash
# thread_snapshot.sh — what a threads profile costs: the wall time of the
# stack snapshot (signal every thread, wait for every answer, unwind in each)
# for 100 and 1000 idle threads, median of ROUNDS runs each. Every thread must
# answer within threads.wait_ms (1 s here), with its stack.
# usage: thread_snapshot.sh [ROUNDS]   (env: LIBCONAN, WORKLOADS as in the suite)
set -u
: "${LIBCONAN:?}" "${WORKLOADS:?}"
ROUNDS=${1:-3}
WORK=$(mktemp -d /tmp/conan-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
status=0
for n in 100 1000; do
    : > "$WORK/times"
    for ((r = 0; r < ROUNDS; r++)); do
        rm -rf "$WORK/d"
        printf '{ "dump_dir": "%s/d", "cpu": { "enable": false }, "heap": { "sample_bytes": 0 }, "threads": { "wait_ms": 1000 } }\n' \
            "$WORK" > "$WORK/c.json"
        LD_PRELOAD="$LIBCONAN" CONAN_CONFIG="$WORK/c.json" "$WORKLOADS/threads_burst" "$n" "$WORK/d" >/dev/null \
            || { echo "FAIL: threads_burst $n" >&2; exit 1; }
        event=$(grep '"kind":"threads"' "$WORK/d/events.jsonl")
        samples=$(printf '%s' "$event" | sed -n 's/.*"samples":\([0-9]*\).*/\1/p')
        dropped=$(printf '%s' "$event" | sed -n 's/.*"dropped":\([0-9]*\).*/\1/p')
        printf '%s' "$event" | sed -n 's/.*"duration_s":\([0-9.e-]*\).*/\1/p' >> "$WORK/times"
        # n workers + the main thread, every one with a stack
        if [ "$samples" != $((n + 1)) ] || [ "$dropped" != 0 ]; then
            echo "FAIL: $n threads: $samples listed, $dropped without a stack" >&2
            status=1
        fi
    done
    sort -g "$WORK/times" | awk -v n="$n" -v r="$ROUNDS" '{ v[NR] = $1 } END { printf "# %d threads: snapshot %.1f ms (median of %d)\n", n, v[int((NR + 1) / 2)] * 1000, r }'
done
exit $status
