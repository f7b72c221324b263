#!/usr/bin/env bash
# Programs started by a profiled program: by default they load the shim too
# (LD_PRELOAD and CONAN_CONFIG pass through exec). With "inherit": false the
# shim removes its own LD_PRELOAD entry (named by path, through a symlink, or
# by bare name) and CONAN_CONFIG at start, keeping other entries, so the
# children run without it.
. "$(dirname "$0")/lib.sh"
skip_if_sanitized "LD_PRELOAD then also names the sanitizer's runtime, which this test's expected environments leave out"
write_config "$WORK/on.json" '{ "dump_dir": "@DUMPS@" }'
write_config "$WORK/off.json" '{ "dump_dir": "@DUMPS@", "inherit": false }'
other=$(ldconfig -p | awk '$1 == "libm.so.6" && /x86-64|64bit/ { print $NF; exit }')
[ -n "$other" ] || other=$(ldconfig -p | awk '$1 == "libm.so.6" { print $NF; exit }')
# The shell is the profiled program; printf is its builtin, grep a child it starts.
probe='printf "%s|%s|" "${LD_PRELOAD:-}" "${CONAN_CONFIG:-}"; if grep -q libconan /proc/self/maps; then echo 1; else echo 0; fi'

run() { # run PRELOAD CONFIG [ENV...] — what the shell's child sees
    local preload=$1 config=$2; shift 2
    env "$@" LD_PRELOAD="$preload" CONAN_CONFIG="$config" /bin/sh -c "$probe" 2>"$WORK/err"
}

got=$(run "$LIBCONAN" "$WORK/on.json")
[ "$got" = "$LIBCONAN|$WORK/on.json|1" ] || fail "inherit (default): child saw '$got'"

got=$(run "$LIBCONAN" "$WORK/off.json")
[ "$got" = "||0" ] || fail "inherit false: child saw '$got'"

got=$(run "$other $LIBCONAN" "$WORK/off.json")
[ "$got" = "$other||0" ] || fail "inherit false with another preload: child saw '$got'"

got=$(run "$LIBCONAN:$other" "$WORK/off.json")
[ "$got" = "$other||0" ] || fail "inherit false, colon-separated: child saw '$got'"

ln -s "$LIBCONAN" "$WORK/alias.so"
got=$(run "$WORK/alias.so" "$WORK/off.json")
[ "$got" = "||0" ] || fail "inherit false, preloaded through a symlink: child saw '$got'"

got=$(run "$(basename "$LIBCONAN")" "$WORK/off.json" LD_LIBRARY_PATH="$(dirname "$LIBCONAN")")
[ "$got" = "||0" ] || fail "inherit false, preloaded by bare name: child saw '$got'"

[ ! -s "$WORK/err" ] || fail "stderr: $(cat "$WORK/err")"
exit 0
