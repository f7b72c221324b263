#!/usr/bin/env bash
# Blocks allocated before libconan's constructor, freed while it runs; blocks
# sampled while it runs, realloc'd and freed after its destructor; a thread
# allocating while the process exits. With every allocation sampled, the
# program exits 0 with its output intact and nothing on stderr, and the
# before/after ordering really happened (the library says whether libconan's
# monitor was running in its constructor and destructor).
. "$(dirname "$0")/lib.sh"
skip_under_tsan "a library constructor calls libconan before libtsan has initialised," \
    "when instrumented code cannot run yet"
write_config "$WORK/c.json" '{ "dump_dir": "@DUMPS@", "heap": { "sample_bytes": 64 } }'
for run in 1 2 3 4 5; do
    out=$(under_shim "$WORK/c.json" "$WORKLOADS/heap_early_late" 2>"$WORK/err") || fail "run $run: exit status $?"
    [ ! -s "$WORK/err" ] || { cat "$WORK/err" >&2; fail "run $run: wrote to stderr"; }
    [ "$out" = "constructor: monitor not running; destructor: monitor not running; freed 1256 at exit" ] \
        || fail "run $run: unexpected output '$out'"
done
note "$out"
exit 0
