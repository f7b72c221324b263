#!/usr/bin/env bash
# With no config, and with each class of bad config, the program's stdout and
# exit status are identical to a run without the shim; a bad config adds exactly
# one "libconan: <file>: <json.path>: <what>" line on stderr and nothing else.
. "$(dirname "$0")/lib.sh"

run() { # run OUTPREFIX [ENV...] — the workload prints on both streams and exits 3
    local prefix=$1; shift
    env "$@" "$WORKLOADS/spike" 0 100 2 10 3 >"$prefix.out" 2>"$prefix.err"
    echo $? > "$prefix.rc"
}
run "$WORK/plain"
[ "$(cat "$WORK/plain.rc")" = 3 ] || fail "baseline exit status $(cat "$WORK/plain.rc")"

same_as_plain() { # same_as_plain PREFIX WHAT
    cmp -s "$WORK/plain.out" "$1.out" || fail "$2: stdout differs"
    cmp -s "$WORK/plain.rc" "$1.rc" || fail "$2: exit status $(cat "$1.rc") instead of $(cat "$WORK/plain.rc")"
}

# No CONAN_CONFIG at all: built-in defaults, nothing on stderr.
run "$WORK/noconf" LD_PRELOAD="$LIBCONAN" CONAN_CONFIG=
same_as_plain "$WORK/noconf" "no config"
cmp -s "$WORK/plain.err" "$WORK/noconf.err" || fail "no config: stderr differs: $(cat "$WORK/noconf.err")"

mkdir "$WORK/adir"
printf '{ "cpu": { "hz": 100, }' > "$WORK/malformed.json"
printf '{ "cpu": { "hertz": 100 } }' > "$WORK/unknown.json"
printf '{ "cpu": { "hz": "fast" } }' > "$WORK/type.json"
printf '{ "cpu": { "hz": 5000 } }' > "$WORK/range.json"
printf '{ "mode": "sometimes" }' > "$WORK/enum.json"
cases=(
    "$WORK/missing.json|\\\$: cannot open: No such file or directory"
    "$WORK/adir|\\\$: not a regular file"
    "$WORK/malformed.json|\\\$: malformed JSON at line 1, column 23"
    "$WORK/unknown.json|cpu.hertz: unknown key \\(valid here: "
    "$WORK/type.json|cpu.hz: must be a number, got a string"
    "$WORK/range.json|cpu.hz: 5000 is out of range \\[1, 1000\\]"
    "$WORK/enum.json|mode: must be one of adaptive\\|continuous\\|off, got \"sometimes\""
)
i=0
for c in "${cases[@]}"; do
    file=${c%%|*}; want=${c#*|}; i=$((i + 1))
    run "$WORK/bad$i" LD_PRELOAD="$LIBCONAN" CONAN_CONFIG="$file"
    same_as_plain "$WORK/bad$i" "$file"
    grep -v '^libconan: ' "$WORK/bad$i.err" | cmp -s - "$WORK/plain.err" || fail "$file: the program's own stderr changed"
    ours=$(grep '^libconan: ' "$WORK/bad$i.err")
    [ "$(printf '%s\n' "$ours" | grep -c .)" -eq 1 ] || fail "$file: want exactly one libconan line, got: $ours"
    printf '%s\n' "$ours" | grep -Eq "^libconan: $(printf '%s' "$file" | sed 's/[.[\*^$/]/\\&/g'): $want" ||
        fail "$file: message '$ours' does not match '$want'"
    note "$ours"
done
exit 0
