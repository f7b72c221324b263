#!/usr/bin/env bash
# Every interposed malloc-family function keeps the allocator's semantics
# (alignment, zeroing, overflow, realloc's cases, free(NULL), errno), whether
# the call is sampled or not: the same checks pass without the shim, with every
# allocation sampled (sample_bytes 1), with heap sampling off, and with
# jemalloc behind the shim. The runs with everything sampled then ask for a
# heap profile on demand, which must show the checks' allocations sampled and
# their frees seen.
. "$(dirname "$0")/lib.sh"
require_go
run_checks() { # run_checks LABEL PRELOAD CONFIG [ask for a profile: DUMP_DIR]
    local out
    rm -rf "$DUMPS"
    out=$(LD_PRELOAD="$2" CONAN_CONFIG="$3" "$WORKLOADS/heap_entry_points" 5 ${4:-} 2>"$WORK/err") \
        || { cat "$WORK/err" >&2; fail "$1: checks failed"; }
    [ ! -s "$WORK/err" ] || { cat "$WORK/err" >&2; fail "$1: wrote to stderr"; }
    note "$1: $out"
}
# sampled_checks LABEL — the heap profile of an everything-sampled run.
sampled_checks() {
    local file="$DUMPS/$(dumps_of_kind heap | head -1)" line sampled freed live
    [ -f "$file" ] || fail "$1: no heap profile"
    line=$(pprof -raw "$file" | grep 'heap sampling:')
    sampled=$(printf '%s\n' "$line" | sed -n 's/.*; \([0-9]*\) sampled, .*/\1/p')
    freed=$(printf '%s\n' "$line" | sed -n 's/.* sampled, \([0-9]*\) freed.*/\1/p')
    live=$(printf '%s\n' "$line" | sed -n 's/.*; \([0-9]*\) sampled blocks live.*/\1/p')
    note "$1: $sampled sampled, $freed freed, $live live"
    [ "${sampled:-0}" -ge 300 ] || fail "$1: only ${sampled:-0} allocations sampled at sample_bytes 1 (5 rounds of ~80)"
    [ $((sampled - freed)) -eq "$live" ] || fail "$1: sampled - freed != live ($line)"
    # every check's block was freed: round_of_checks holds nothing in use
    pprof -top -sample_index=alloc_objects "$file" | grep -q round_of_checks \
        || fail "$1: round_of_checks is not among the sampled allocation sites"
    if pprof -top -sample_index=inuse_objects "$file" | awk '$NF == "round_of_checks" && $1 != "0" { found = 1 } END { exit !found }'; then
        fail "$1: round_of_checks still has blocks in use after freeing them all"
    fi
}
run_checks "no shim" "" ""
write_config "$WORK/all.json" '{ "dump_dir": "@DUMPS@", "heap": { "sample_bytes": 1 } }'
run_checks "every allocation sampled" "$LIBCONAN" "$WORK/all.json" "$DUMPS"
sampled_checks "every allocation sampled"
write_config "$WORK/off.json" '{ "dump_dir": "@DUMPS@", "heap": { "sample_bytes": 0 } }'
run_checks "heap sampling off" "$LIBCONAN" "$WORK/off.json"
write_config "$WORK/modeoff.json" '{ "mode": "off" }'
run_checks "shim mode off" "$LIBCONAN" "$WORK/modeoff.json"
if [ -n "$SANITIZED" ]; then
    note "not run with jemalloc behind: under $SANITIZED, the sanitizer's allocator is behind the shim"
    exit 0
fi
jemalloc=$(ls /usr/lib/*/libjemalloc.so.2 2>/dev/null | head -1)
[ -n "$jemalloc" ] || fail "libjemalloc.so.2 is not installed (scripts/setup.sh installs libjemalloc2)"
run_checks "every allocation sampled, jemalloc behind" "$LIBCONAN $jemalloc" "$WORK/all.json" "$DUMPS"
sampled_checks "every allocation sampled, jemalloc behind"
exit 0
