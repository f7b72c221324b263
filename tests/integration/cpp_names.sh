#!/usr/bin/env bash
# A C++ workload: pprof shows the hot member function demangled, with its
# namespace and class, as the top entry.
. "$(dirname "$0")/lib.sh"
require_go
write_config "$WORK/c.json" '{ "interval_ms": 100, "dump_dir": "@DUMPS@",
  "cpu": { "min": 0, "abs": '"$BUSY_ABS"', "window": 0, "profile_seconds": 1 } }'
under_shim "$WORK/c.json" "$WORKLOADS/spike_cpp" 200 2000 >/dev/null || fail "workload failed"
[ "$(count_dumps cpu)" -eq 1 ] || fail "want 1 cpu dump, got $(count_dumps cpu)"
top=$(top_function "$DUMPS/$(dumps_of_kind cpu)")
case "$top" in
    conan_demo::Crunch::hot_loop*) note "top: $top" ;;
    *) pprof -top "$DUMPS/$(dumps_of_kind cpu)" >&2; fail "top function is '$top'" ;;
esac
# The mangled name is kept as the function's system name.
pprof -raw "$DUMPS/$(dumps_of_kind cpu)" | grep -q "_ZN10conan_demo6Crunch8hot_loopEl" ||
    fail "mangled system name missing"
exit 0
