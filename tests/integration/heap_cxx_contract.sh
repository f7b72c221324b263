#!/usr/bin/env bash
# libconan defines C++ operator new/delete; programs that rely on the C++
# rules around them must behave exactly as without it (every allocation
# sampled, to take the slow paths too):
# - a program replacing only the basic operator new/delete (with a header on
#   each block) gets every form — array, sized, nothrow — through its
#   replacements, with glibc and with jemalloc behind;
# - a C host loading a C++ library RTLD_LOCAL (whose C++ runtime the global
#   scope cannot see) still gets bad_alloc thrown and nothrow's nullptr.
. "$(dirname "$0")/lib.sh"
skip_if_sanitized "the sanitizer's operator new/delete take the C++ runtime's place: they abort instead of" \
    "throwing bad_alloc and do not reach a program's replacement operators, with or without libconan"
write_config "$WORK/c.json" '{ "dump_dir": "@DUMPS@", "heap": { "sample_bytes": 64 } }'
jemalloc=$(ls /usr/lib/*/libjemalloc.so.2 2>/dev/null | head -1)
[ -n "$jemalloc" ] || fail "libjemalloc.so.2 is not installed (scripts/setup.sh installs libjemalloc2)"
same() { # same LABEL BEHIND CMD... — output and status with and without the shim
    local label=$1 behind=$2; shift 2
    local plain shimmed
    plain=$(LD_PRELOAD="$behind" "$@" 2>&1; echo "status $?")
    shimmed=$(LD_PRELOAD="$LIBCONAN $behind" CONAN_CONFIG="$WORK/c.json" "$@" 2>&1; echo "status $?")
    [ "$plain" = "$shimmed" ] || fail "$label: without the shim '$plain', with it '$shimmed'"
    note "$label: $(printf '%s' "$shimmed" | tr '\n' ' ')"
}
same "replaced operator new, glibc" "" "$WORKLOADS/cxx_replaced_new"
same "replaced operator new, jemalloc behind" "$jemalloc" "$WORKLOADS/cxx_replaced_new"
same "C++ library loaded RTLD_LOCAL" "" "$WORKLOADS/cxx_local_host" "$WORKLOADS/libcxx_local_lib.so"
out=$(under_shim "$WORK/c.json" "$WORKLOADS/cxx_local_host" "$WORKLOADS/libcxx_local_lib.so")
[ "$out" = "library result 3" ] || fail "RTLD_LOCAL library: '$out', want bad_alloc caught and nothrow NULL (3)"
exit 0
