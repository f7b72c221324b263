#!/usr/bin/env bash
# package.sh [OUTDIR] — builds the Debian packages libconan0, libconan-dev and libconan-tools
# (debian/) with dpkg-buildpackage from a clean copy of the tree, so the source
# directory is not littered, puts the .debs, .changes and .buildinfo in OUTDIR
# (build-deb/ by default), runs lintian on them (its report: OUTDIR/lintian.txt)
# and prints the paths of the .debs. Fails when the build fails or lintian
# reports an error or a warning. The copy holds the files git tracks, as they
# are in the working tree: a new file must be `git add`ed to be packaged.
set -euo pipefail
# OUTDIR is relative to where the script was called from; the default to the tree.
out=${1:-$(dirname "$0")/../build-deb}
case $out in /*) ;; *) out=$PWD/$out ;; esac
cd "$(dirname "$0")/.."
source_dir=$PWD
# A directory made here is output, which git should not see (as meson's build dirs).
[ -d "$out" ] || { mkdir -p "$out" && echo '*' >"$out/.gitignore"; }
out=$(cd "$out" && pwd)

scripts/setup.sh

version=$(dpkg-parsechangelog -SVersion)
scratch=$(mktemp -d /tmp/libconan-package.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
tree="$scratch/libconan-$version"
mkdir "$tree"
if git -C "$source_dir" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    # Tracked files that exist (a deletion not yet committed is left out).
    git ls-files -z --cached | while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done \
        | tar -cf - --null -T - | tar -xf - -C "$tree"
else
    tar -cf - --exclude='./build*' --exclude=./.git . | tar -xf - -C "$tree"
fi

log="$out/build.log"
(cd "$tree" && dpkg-buildpackage -us -uc -b) >"$log" 2>&1 \
    || { tail -40 "$log" >&2; echo "package.sh: dpkg-buildpackage failed; the whole log: $log" >&2; exit 1; }

# What this build made replaces what an earlier one left in OUTDIR.
rm -f "$out"/libconan0_* "$out"/libconan0-dbgsym_* "$out"/libconan-dev_* "$out"/libconan-tools_* "$out"/libconan-tools-dbgsym_* "$out"/libconan_*
mv "$scratch"/*.deb "$scratch"/*.changes "$scratch"/*.buildinfo "$out"/
mv "$scratch"/*.ddeb "$out"/ 2>/dev/null || true

changes=$(ls "$out"/libconan_"$version"_*.changes)
# Exit status 1: tags at or above --fail-on; 2 and up: lintian itself failed.
status=0
lintian --info --display-level '>=pedantic' --fail-on error,warning "$changes" >"$out/lintian.txt" 2>&1 || status=$?
[ $status -le 1 ] || { cat "$out/lintian.txt" >&2; echo "package.sh: lintian failed (status $status)" >&2; exit 1; }
if [ $status -eq 1 ] || grep -qE '^(E|W): ' "$out/lintian.txt"; then
    grep -E '^(E|W): ' "$out/lintian.txt" >&2
    echo "package.sh: lintian reports errors or warnings (all of it: $out/lintian.txt)" >&2
    exit 1
fi
ls "$out"/*.deb
