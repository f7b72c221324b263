#!/usr/bin/env bash
# update-readme-reference.sh — regenerates the config reference in README.md
# from the config key table (src/config.c).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
build=${BUILD_DIR:-build}
"$build/config_reference" > /tmp/conan-reference.$$
awk -v ref=/tmp/conan-reference.$$ '
    /<!-- config-reference:end -->/ { while ((getline line < ref) > 0) print line; skip = 0 }
    !skip { print }
    /<!-- config-reference:begin -->/ { skip = 1 }' README.md > README.md.new
mv README.md.new README.md
rm -f /tmp/conan-reference.$$
