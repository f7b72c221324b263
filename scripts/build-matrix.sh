#!/usr/bin/env bash
# build-matrix.sh — builds everything (library, tools, tests) with -Werror in
# every buildtype (debug, debugoptimized, release, release with LTO) with gcc
# and with clang, each in a scratch directory, and prints one line per build.
# The suite builds one of these (release+LTO with gcc, tests/integration/
# install.sh); this is the rest, for a change that touches compiler flags or
# attributes. Exit status: the number of failed builds.
set -uo pipefail
cd "$(dirname "$0")/.."
clang=$(command -v clang-14 || command -v clang || true)
compilers=(gcc)
[ -n "$clang" ] && compilers+=("$clang") || echo "build-matrix: no clang (scripts/setup.sh installs clang-14); gcc only"
failed=0
for cc in "${compilers[@]}"; do
    cxx=g++; [ "$cc" != gcc ] && cxx=${cc/clang/clang++}
    for bt in debug debugoptimized release release+lto; do
        dir=$(mktemp -d /tmp/conan-matrix.XXXXXX)
        args=(--werror "--buildtype=${bt%+lto}")
        [ "$bt" = release+lto ] && args+=(-Db_lto=true)
        if CC=$cc CXX=$cxx meson setup "$dir" "${args[@]}" >"$dir.log" 2>&1 && ninja -k 0 -C "$dir" >>"$dir.log" 2>&1; then
            echo "ok     $(basename "$cc") $bt"
        else
            echo "FAILED $(basename "$cc") $bt"
            grep -E "error:|warning:" "$dir.log" | sort -u | head -20
            failed=$((failed + 1))
        fi
        rm -rf "$dir" "$dir.log"
    done
done
exit $failed
