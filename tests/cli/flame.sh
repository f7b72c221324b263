#!/usr/bin/env bash
# conan flame, checked in a real headless Chromium (tests/cli/flame_page.py)
# against conan top --json: a real CPU dump of the spike workload and a
# two_threads CPU dump (its samples carry a thread label) become pages that
# load with no console error and no request but their own file; the widest
# frame under the root and the named functions span their cum share of the
# width within 1 px; a click zooms a frame to the full width and reset brings
# every frame back; a search lights exactly the frames with that name and
# shows that function's cum share (a sample counted once however often the
# name recurs on its stack); a thread filter makes the total that thread's.
# --folded sums to the total, one "a;b;c N" line per stack. A profile whose
# names hold </script>, <!--<script>, quotes and invalid UTF-8 is drawn as
# text with no script run. The screenshot of the two_threads page stays in
# the build directory (flame-screenshot.png).
. "$SOURCE_ROOT/tests/integration/lib.sh"
: "${CONAN:?CONAN must point at the conan tool}"
HERE="$SOURCE_ROOT/tests/cli"
SHOT="$(cd "$WORKLOADS/.." && pwd)/flame-screenshot.png"

# A CPU dump of a spike, and one of two burning threads (thread labels).
mkdir -p "$DUMPS" "$WORK/two"
write_config "$WORK/spike.json" '{ "app": "t", "interval_ms": 250, "dump_dir": "@DUMPS@",
  "cpu": { "min": 10, "diff": 25, "window": 8, "cooldown_s": 60, "profile_seconds": 2 } }'
under_shim "$WORK/spike.json" "$WORKLOADS/spike" 1200 2500 1 0 >/dev/null 2>&1 || fail "spike failed"
spike=$DUMPS/$(dumps_of_kind cpu | head -1)
[ -f "$spike" ] || fail "spike wrote no cpu dump: $(cat "$DUMPS/events.jsonl" 2>/dev/null)"
write_config "$WORK/two.json" '{ "app": "two", "interval_ms": 100, "dump_dir": "'"$WORK/two"'",
  "cpu": { "min": 0, "abs": '"$BUSY_ABS"', "window": 0, "cooldown_s": 600, "profile_seconds": 1, "hz": 100 } }'
under_shim "$WORK/two.json" "$WORKLOADS/two_threads" 1.5 0 >/dev/null 2>&1 || fail "two_threads failed"
two=$(ls "$WORK"/two/two.*.cpu.*.pb.gz 2>/dev/null | head -1)
[ -n "$two" ] || fail "two_threads wrote no cpu dump"

top_json() { "$CONAN" top --json "$@" || fail "conan top --json $* failed"; }
top_json "$spike" > "$WORK/spike.top"
top_json "$two" > "$WORK/two.top"
top_json --tag thread=burner-left "$two" > "$WORK/left.top"
field() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$@"; }
cum_of() { python3 -c 'import json, sys; print(sum(r["cum"] for r in json.load(open(sys.argv[1]))["rows"] if r["name"] == sys.argv[2]))' "$@"; }
total_text() { "$CONAN" top "$1" | sed -n 's/^Showing nodes accounting for .* of \(.*\) total$/\1/p'; }

# --folded: "a;b;c N" per line, the values summing to conan top's total.
for f in "$spike" "$two"; do
    "$CONAN" flame --folded "$f" > "$WORK/folded" || fail "conan flame --folded $f failed"
    bad=$(grep -cvE '^[^ ;][^;]*(;[^;]+)* [0-9]+$' "$WORK/folded")
    [ "$bad" -eq 0 ] || fail "$bad folded lines not 'a;b;c N': $(grep -vE '^[^ ;][^;]*(;[^;]+)* [0-9]+$' "$WORK/folded" | head -3)"
    [ "$(cut -d' ' -f1 "$WORK/folded" | sort | uniq -d | wc -l)" -eq 0 ] || fail "a stack has two folded lines"
    sum=$(awk '{ s += $NF } END { printf "%.0f", s }' "$WORK/folded") # %d stops at 2^31 in mawk
    total=$(field "$WORK/$( [ "$f" = "$spike" ] && echo spike || echo two).top" total)
    [ "$sum" = "$total" ] || fail "folded values of $f sum to $sum, conan top's total is $total"
done
note "folded: $(wc -l < "$WORK/folded") stacks summing to $sum"

# The pages. Without -o: FILE's base name without .pb.gz, plus .html, here;
# the one line on stdout is the path.
cd "$WORK" || fail "no $WORK"
out=$("$CONAN" flame "$spike") || fail "conan flame $spike failed"
want=$(basename "$spike" .pb.gz).html
[ "$out" = "$want" ] && [ -s "$WORK/$want" ] || fail "conan flame printed '$out', want '$want' written"
"$CONAN" flame "$two" -o "$WORK/two.html" > "$WORK/out" || fail "conan flame -o failed"
[ "$(cat "$WORK/out")" = "$WORK/two.html" ] || fail "conan flame -o printed '$(cat "$WORK/out")'"
if "$CONAN" flame "$two" --tag nokey > /dev/null 2>&1; then fail "--tag without '=' accepted"; fi
"$CONAN" flame "$two" --sample-index nosuchtype -o "$WORK/x.html" 2>/dev/null && fail "an unknown sample index accepted"

# Hostile names: nothing may end the data block or run.
hostile="$WORK/h<!--<script>\"q.pb.gz"
python3 "$HERE/hostile_profile.py" "$hostile" > "$WORK/hostile.names" || fail "cannot write the hostile profile"
top_json "$hostile" > "$WORK/hostile.top"
"$CONAN" flame "$hostile" -o "$WORK/hostile.html" > /dev/null || fail "conan flame on hostile names failed"
n=$(grep -o '</script' "$WORK/hostile.html" | wc -l)
[ "$n" -eq 2 ] || fail "hostile.html has $n '</script', not 2 (the data block's end and the code's)"
"$CONAN" flame --folded "$hostile" > "$WORK/hostile.folded" || fail "--folded on hostile names failed"
[ "$(wc -l < "$WORK/hostile.folded")" -eq 11 ] || fail "hostile names split folded lines: $(cat "$WORK/hostile.folded")"

cum_left=$(cum_of "$WORK/two.top" burn_left)
[ "$cum_left" -gt 0 ] || fail "burn_left has no samples"
python3 - "$WORK/spec.json" "$hostile" <<PY || fail "cannot write the page spec"
import json, sys
load = lambda p: json.load(open(p, errors="replace"))  # conan top --json passes invalid UTF-8 through
two, spike = load("$WORK/two.top"), load("$WORK/spike.top")
names = [json.loads(l) for l in open("$WORK/hostile.names")]
cum = lambda top, name: sum(r["cum"] for r in top["rows"] if r["name"] == name)
# Search for names no other function contains (the page's search is a regex).
search = lambda top, names: [{"query": n, "cum": cum(top, n)} for n in names
                             if cum(top, n) and sum(n in r["name"] for r in top["rows"]) == 1]
pages = [
    {"html": "$WORK/$want", "top": spike, "total_text": "$(total_text "$spike")", "widths": ["burn_cpu_in_spike"],
     "zoom": "burn_cpu_in_spike", "search": search(spike, ["burn_cpu_in_spike"])},
    {"html": "$WORK/two.html", "top": two, "total_text": "$(total_text "$two")",
     "widths": [n for n in ("burn_left", "burn_right", "clock_gettime") if cum(two, n)], "zoom": "burn_left",
     "search": search(two, ["burn_left", "clock_gettime"]),
     "filter": {"key": "thread", "value": "burner-left", "total": load("$WORK/left.top")["kept_total"]},
     "hover": "burn_left", "screenshot": True},
    {"html": "$WORK/hostile.html", "top": load("$WORK/hostile.top"), "widths": ["work"],
     "search": search(load("$WORK/hostile.top"), ["work"]), "names": names, "pruned": 1, "file": sys.argv[2], "title": sys.argv[2] + " — conan flame"},
]
assert pages[0]["search"] and pages[1]["search"], "no function to search for"
json.dump({"screenshot": "$SHOT", "pages": pages}, open(sys.argv[1], "w"))
PY

HOME=$WORK /usr/bin/python3 "$HERE/flame_page.py" "$WORK/spec.json"
rc=$?
[ $rc -eq 77 ] && exit 77
[ $rc -eq 0 ] || fail "the pages failed in Chromium (above)"
[ -s "$SHOT" ] || fail "no screenshot at $SHOT"
note "screenshot: $SHOT"
exit 0
