#!/usr/bin/env bash
# build.sh — configures (once) and builds libconan into build/ (or $BUILD_DIR).
# Quiet on success; on failure prints the build's output.
set -uo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if [ ! -f "$build/build.ninja" ]; then
    meson setup "$build" >"$log" 2>&1 || { cat "$log"; exit 1; }
fi
ninja -C "$build" >"$log" 2>&1 || { cat "$log"; exit 1; }
