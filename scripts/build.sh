#!/usr/bin/env bash
# build.sh — configures (once) and builds libconan into build/ (or $BUILD_DIR),
# with -Werror: development and CI treat a warning as an error, while a plain
# `meson setup` (packagers, users) does not. Extra arguments go to `meson setup`.
# Quiet on success; on failure prints the build's output.
set -uo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if [ ! -f "$build/build.ninja" ]; then
    meson setup --werror "$@" "$build" >"$log" 2>&1 || { cat "$log"; exit 1; }
fi
ninja -C "$build" >"$log" 2>&1 || { cat "$log"; exit 1; }
