#!/usr/bin/env bash
# run_fuzz.sh — builds a libFuzzer target with clang, libFuzzer, AddressSanitizer
# and UBSan, and fuzzes it for FUZZ_SECONDS (default 45) starting from a scratch
# copy of its seed corpus. Targets:
#   config   tests/fuzz/config_fuzz.c: config.c's parser and validator
#            (seeds tests/fuzz/corpus, dictionary config.dict)
#   profile  tests/fuzz/profile_fuzz.c: the conan tool's pprof reader and report
#            code, cli/profile.c and cli/report.c (seeds tests/fuzz/profile_corpus,
#            dictionary profile.dict)
# Usage: run_fuzz.sh [BUILD_DIR [TARGET]]   (TARGET: config, the default, or
# profile; the binary and any reproducer go to BUILD_DIR/tests/fuzz; default
# BUILD_DIR: build/ in the source tree).
# Exits 0 (nothing found), 1 (a crash, leak, UB or broken invariant: the
# reproducer is printed in base64) or 77 (no clang or no libFuzzer runtime).
# Environment: FUZZ_SECONDS, FUZZ_MAX_LEN (largest input: 8192 for config,
# 65536 for profile), CLANG, FUZZ_CORPUS (a directory to fuzz in and keep, for
# long campaigns: seeded from the target's corpus when empty; default a scratch
# copy that is removed), FUZZ_RSS_MB (libFuzzer's -rss_limit_mb, 1024).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-${BUILD_DIR:-$root/build}}
target=${2:-config}
out="$build/tests/fuzz"
seconds=${FUZZ_SECONDS:-45}
case $target in
config) max_len=${FUZZ_MAX_LEN:-8192}; seeds="$here/corpus"; dict="$here/config.dict"; what="config.c" ;;
profile) max_len=${FUZZ_MAX_LEN:-65536}; seeds="$here/profile_corpus"; dict="$here/profile.dict"
    what="the pprof reader (cli/profile.c, cli/report.c)" ;;
*) echo "usage: run_fuzz.sh [BUILD_DIR [config|profile]]" >&2; exit 2 ;;
esac

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

binary="$out/${target}_fuzz"
cflags=(-std=gnu11 -g -O1 -Wall -Wextra -Werror -D_GNU_SOURCE "${sanitize[@]}" -I"$root/include" -I"$root/src")
build_config() {
    local cjson
    cjson=$(pkg-config --cflags --libs libcjson) || fail "pkg-config finds no libcjson (scripts/setup.sh installs libcjson-dev)"
    # shellcheck disable=SC2086  # $cjson is a list of flags
    "$clang" "${cflags[@]}" \
        "$here/config_fuzz.c" "$root/src/log.c" "$root/src/procfs.c" $cjson -lm -o "$binary"
}
# The reader as the tool links it: profile.c and report.c over profile.pb-c,
# generated here from src/profile.proto so the build directory need not be built.
build_profile() {
    local libs
    libs=$(pkg-config --cflags --libs libprotobuf-c zlib) ||
        fail "pkg-config finds no libprotobuf-c or zlib (scripts/setup.sh installs them)"
    command -v protoc-c >/dev/null || fail "protoc-c is not installed (scripts/setup.sh installs protobuf-c-compiler)"
    protoc-c --proto_path="$root/src" --c_out="$work" "$root/src/profile.proto" || fail "protoc-c failed"
    # shellcheck disable=SC2086  # $libs is a list of flags
    "$clang" "${cflags[@]}" -I"$work" -I"$root/cli" \
        "$here/profile_fuzz.c" "$root/cli/profile.c" "$root/cli/report.c" "$work/profile.pb-c.c" $libs -lm -o "$binary"
}
"build_$target" || fail "building $binary with $clang failed"

mkdir -p "$work/artifacts"
corpus=${FUZZ_CORPUS:-$work/corpus}
mkdir -p "$corpus" || fail "cannot create $corpus"
if [ -z "$(ls -A "$corpus")" ]; then
    cp "$seeds"/* "$corpus/" || fail "no seed corpus in $seeds"
fi

echo "# fuzzing $what for ${seconds}s with $clang ($(find "$corpus" -type f | wc -l) seeds)"
log="$out/${target}_fuzz.log"
ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:abort_on_error=0 \
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
"$binary" -max_total_time="$seconds" -max_len="$max_len" -timeout=10 -rss_limit_mb="${FUZZ_RSS_MB:-1024}" \
    -error_exitcode=1 -timeout_exitcode=1 -print_final_stats=1 \
    -dict="$dict" -artifact_prefix="$work/artifacts/" \
    "$corpus" >"$log" 2>&1
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
    fail "the $target fuzzer found a problem (libFuzzer exit status $status)"
fi
echo "# no crash, leak, UB or broken invariant in ${seconds}s; log: $log"
