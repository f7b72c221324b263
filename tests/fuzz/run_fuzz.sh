#!/usr/bin/env bash
# run_fuzz.sh — builds tests/fuzz/config_fuzz.c (config.c's parser and validator)
# with clang, libFuzzer, AddressSanitizer and UBSan, and fuzzes it for
# FUZZ_SECONDS (default 45) starting from a scratch copy of tests/fuzz/corpus.
# Usage: run_fuzz.sh [BUILD_DIR]   (the binary and any reproducer go to
# BUILD_DIR/tests/fuzz; default: build/ in the source tree).
# Exits 0 (nothing found), 1 (a crash, leak, UB or broken invariant: the
# reproducer is printed in base64) or 77 (no clang or no libFuzzer runtime).
# Environment: FUZZ_SECONDS, FUZZ_MAX_LEN (largest input, 8192), CLANG.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-${BUILD_DIR:-$root/build}}
out="$build/tests/fuzz"
seconds=${FUZZ_SECONDS:-45}
max_len=${FUZZ_MAX_LEN:-8192}

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }

clang=${CLANG:-}
if [ -z "$clang" ]; then
    for candidate in clang-14 clang; do
        command -v "$candidate" >/dev/null && { clang=$candidate; break; }
    done
fi
if [ -z "$clang" ] || ! command -v "$clang" >/dev/null; then
    skip "clang is not installed; scripts/setup.sh installs clang-14"
fi

mkdir -p "$out" || fail "cannot create $out"
work=$(mktemp -d /tmp/conan-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT

sanitize=("-fsanitize=fuzzer,address,undefined" -fno-sanitize-recover=all -fno-omit-frame-pointer)

# A target that links nothing but the runtime: if this fails, the runtime is missing.
printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }\n' \
    >"$work/probe.c"
"$clang" "${sanitize[@]}" "$work/probe.c" -o "$work/probe" 2>"$work/probe.err" ||
    skip "$clang cannot link -fsanitize=fuzzer ($(head -n1 "$work/probe.err")); scripts/setup.sh installs libclang-rt-14-dev"

cjson=$(pkg-config --cflags --libs libcjson) || fail "pkg-config finds no libcjson (scripts/setup.sh installs libcjson-dev)"
binary="$out/config_fuzz"
# shellcheck disable=SC2086  # $cjson is a list of flags
"$clang" -std=gnu11 -g -O1 -Wall -Wextra -Werror -D_GNU_SOURCE "${sanitize[@]}" \
    -I"$root/include" -I"$root/src" \
    "$here/config_fuzz.c" "$root/src/log.c" "$root/src/procfs.c" $cjson -lm -o "$binary" ||
    fail "building $binary with $clang failed"

mkdir -p "$work/corpus" "$work/artifacts"
cp "$here"/corpus/* "$work/corpus/" || fail "no seed corpus in $here/corpus"

echo "# fuzzing config.c for ${seconds}s with $clang ($(find "$work/corpus" -type f | wc -l) seeds)"
log="$out/config_fuzz.log"
ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:abort_on_error=0 \
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
"$binary" -max_total_time="$seconds" -max_len="$max_len" -timeout=10 -rss_limit_mb=1024 \
    -error_exitcode=1 -timeout_exitcode=1 -print_final_stats=1 \
    -dict="$here/config.dict" -artifact_prefix="$work/artifacts/" \
    "$work/corpus" >"$log" 2>&1
status=$?

# The last status line ("#N DONE cov: ... ft: ... corp: ... exec/s: ...") and the stats.
grep -E '^#[0-9]+[[:space:]]+(DONE|pulse|NEW|REDUCE)' "$log" | tail -n1
grep -E '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' "$log"

if [ "$status" -ne 0 ]; then
    echo "--- libFuzzer output (last 60 lines of $log) ---" >&2
    tail -n 60 "$log" >&2
    found=0
    for artifact in "$work"/artifacts/*; do
        [ -e "$artifact" ] || continue
        found=1
        kept="$out/$(basename "$artifact")"
        cp "$artifact" "$kept" || kept=$artifact
        echo "reproducer: $kept (run: $binary $kept)" >&2
        echo "base64:" >&2
        base64 "$artifact" >&2
    done
    [ "$found" -eq 1 ] || echo "(libFuzzer left no reproducer; exit status $status)" >&2
    fail "the config fuzzer found a problem (libFuzzer exit status $status)"
fi
echo "# no crash, leak, UB or broken invariant in ${seconds}s; log: $log"
