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

# compare FILE TYPE [CONAN_FILTER PPROF_FILTER] — conan top --json against pprof -top.
compare() {
    local file=$1 type=$2 conan_filter=${3:-} pprof_filter=${4:-} unit
    unit=$("$CONAN" top --json --sample-index "$type" "$file" | sed -n 's/.*"unit":"\([^"]*\)".*/\1/p')
    case "$unit" in bytes) unit=B ;; *) unit=ns ;; esac
    # shellcheck disable=SC2086
    "$CONAN" top --json --sample-index "$type" $conan_filter "$file" > "$WORK/conan.json" \
        || fail "conan top failed on $file ($type)"
    # shellcheck disable=SC2086
    pprof -top -symbolize=none -nodefraction=0 -nodecount=1000000 -sample_index="$type" -unit="$unit" \
        $pprof_filter "$file" > "$WORK/pprof.txt" || fail "pprof failed on $file: $(cat "$WORK/pprof.err")"
    python3 - "$WORK/conan.json" "$WORK/pprof.txt" "$file $type $conan_filter" <<'PY' || exit 1
import json, re, sys
conan = json.load(open(sys.argv[1]))
label = sys.argv[3]
def num(s):
    m = re.match(r"^(-?\d+)(?:\.\d+)?[A-Za-z]*$", s)
    if not m:
        raise SystemExit(f"FAIL: {label}: cannot read pprof value {s!r}")
    return int(m.group(1))
total = None
rows = {}
header = False
for line in open(sys.argv[2]):
    m = re.match(r"Showing nodes accounting for \S+, \S+ of (\S+) total", line)
    if m:
        total = num(m.group(1))
    if re.match(r"\s+flat\s+flat%", line):
        header = True
        continue
    if header and line.strip():
        f = line.split(None, 5)
        rows[f[5].rstrip("\n")] = (num(f[0]), num(f[3]))
if total is None:
    # pprof prints no "Showing" line when nothing is left to show
    total = 0
mine = {r["name"]: (r["flat"], r["cum"]) for r in conan["rows"]}
errors = []
if conan["total"] != total and rows:
    errors.append(f"total {conan['total']} vs pprof {total}")
for name, (flat, cum) in rows.items():
    if name not in mine:
        errors.append(f"{name!r}: missing (pprof flat {flat} cum {cum})")
    elif mine[name] != (flat, cum):
        errors.append(f"{name!r}: flat/cum {mine[name]} vs pprof {(flat, cum)}")
for name, (flat, cum) in mine.items():
    if name not in rows and (flat or cum):
        errors.append(f"{name!r}: extra row flat {flat} cum {cum}")
if errors:
    print(f"FAIL: {label}: " + "; ".join(errors[:8]), file=sys.stderr)
    sys.exit(1)
print(f"# {label}: {len(rows)} functions, total {total}: equal")
PY
}

# compare_all FILE — every sample type of FILE.
compare_all() {
    local types
    types=$(pprof -raw "$1" | awk '/^Samples:/ { getline; print; exit }') || fail "pprof -raw failed on $1"
    [ -n "$types" ] || fail "no sample types read from $1"
    for t in $types; do
        t=${t%%/*}
        compare "$1" "$t"
    done
}

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
