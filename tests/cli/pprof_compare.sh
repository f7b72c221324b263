# pprof_compare.sh — sourced by tests/cli/*.sh after tests/integration/lib.sh:
# compare FILE TYPE [CONAN_FILTER PPROF_FILTER] checks that conan top's total
# and every function's flat and cum equal go tool pprof -top's on FILE for
# sample type TYPE; compare_all FILE does it for every sample type.

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

