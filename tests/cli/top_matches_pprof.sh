#!/usr/bin/env bash
# conan top counts as go tool pprof -top does: on every kind libconan writes
# (cpu with thread labels, heap with C++ names, threads, threadcreate) and on
# a CPU profile written by Go's own runtime/pprof (inlined frames, labels),
# for every sample type, the total and each function's flat and cum equal
# pprof's exactly (pprof asked for raw units: -unit=ns / -unit=B); with a
# --tag and a --focus filter they equal pprof's -tagfocus / -focus. pprof runs
# with -symbolize=none: conan top names only what the profile names (conan
# symbolize is the step that adds names), and -nodefraction=0 so pprof drops
# no row.
. "$SOURCE_ROOT/tests/integration/lib.sh"
require_go

. "$SOURCE_ROOT/tests/cli/pprof_compare.sh"

# libconan's kinds, from bundled workloads.
write_config "$WORK/cpu.json" '{ "app": "cpu", "interval_ms": 100, "dump_dir": "@DUMPS@",
  "cpu": { "min": 0, "abs": '"$BUSY_ABS"', "window": 0, "cooldown_s": 600, "profile_seconds": 1, "hz": 200 } }'
under_shim "$WORK/cpu.json" "$WORKLOADS/two_threads" 1.5 0 "$WORK/cpu.log" >/dev/null || fail "two_threads failed"
# (threads_burst first: it waits for a threads dump in the directory)
write_config "$WORK/threads.json" '{ "app": "threads", "interval_ms": 100, "dump_dir": "@DUMPS@", "cpu": { "enable": false },
  "heap": { "sample_bytes": 0 }, "threads": { "min": 0, "abs": 21, "window": 0 } }'
under_shim "$WORK/threads.json" "$WORKLOADS/threads_burst" 20 "$DUMPS" rule >/dev/null || fail "threads_burst failed"
write_config "$WORK/heap.json" '{ "app": "heap", "dump_dir": "@DUMPS@", "cpu": { "enable": false }, "heap": { "sample_bytes": 65536 } }'
under_shim "$WORK/heap.json" "$WORKLOADS/heap_cpp" 8 "$DUMPS" >/dev/null || fail "heap_cpp failed"
# of_app APP KIND — the first KIND dump the run of app APP wrote.
of_app() { dumps_of_kind "$2" | grep "^$1\." | head -1; }
for app_kind in cpu:cpu heap:heap threads:threads threads:threadcreate; do
    file=$(of_app "${app_kind%:*}" "${app_kind#*:}")
    [ -n "$file" ] || fail "no $app_kind dump: $(ls "$DUMPS")"
    compare_all "$DUMPS/$file"
done
cpu="$DUMPS/$(of_app cpu cpu)"
thread=$(pprof -tags "$cpu" | awk '/thread:/ { getline; print $NF; exit }')
[ -n "$thread" ] || fail "the cpu profile has no thread label"
compare "$cpu" cpu "--tag thread=$thread" "-tagfocus=thread=^$thread\$"

# A CPU profile from Go's runtime/pprof.
GOCACHE="$WORK/gocache" GOPATH="$WORK/gopath" HOME="$WORK" go build -o "$WORK/go_cpu" "$SOURCE_ROOT/tests/cli/go_cpu/main.go" \
    || fail "cannot build the Go workload"
"$WORK/go_cpu" "$WORK/go.pb.gz" || fail "the Go workload failed"
compare_all "$WORK/go.pb.gz"
compare "$WORK/go.pb.gz" cpu "--tag phase=first" "-tagfocus=phase=^first\$"
compare "$WORK/go.pb.gz" samples "--focus ^main\.burnSecondPhase\$" "-focus=^main\.burnSecondPhase\$"
exit 0
