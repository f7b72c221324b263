#!/usr/bin/env bash
# conan ls: one row per dump, oldest first, joined from events.jsonl and the
# files present — what tripped (rule, value, threshold), samples and size from
# the event; a dump file without an event line and an event whose file is
# gone are marked; a line that is not an event is skipped with one line on
# stderr; without DIR, the dump_dir of $CONAN_CONFIG. Plain output (not a
# terminal) is tab-separated, one header line, no colour.
. "$SOURCE_ROOT/tests/integration/lib.sh"
write_config "$WORK/c.json" '{ "app": "lsapp", "interval_ms": 100, "dump_dir": "@DUMPS@", "cpu": { "enable": false },
  "heap": { "min": 0, "abs": 24, "window": 0 } }'
under_shim "$WORK/c.json" "$WORKLOADS/heap_leak" 32 "$DUMPS" >/dev/null || fail "heap_leak failed"
heap=$(dumps_of_kind heap | head -1)
[ -n "$heap" ] || fail "no heap dump"

CONAN_CONFIG="$WORK/c.json" "$CONAN" ls --json > "$WORK/a.json" || fail "conan ls --json failed"
python3 - "$WORK/a.json" "$DUMPS/events.jsonl" "$DUMPS/$heap" <<'PY' || exit 1
import json, sys
rows = json.load(open(sys.argv[1]))
events = [json.loads(l) for l in open(sys.argv[2])]
if len(rows) != len(events):
    sys.exit(f"FAIL: {len(rows)} rows for {len(events)} events")
heap = [r for r in rows if r["file"] == sys.argv[3]]
if len(heap) != 1:
    sys.exit(f"FAIL: the heap dump is not one row: {rows}")
r, e = heap[0], next(e for e in events if e["file"] == sys.argv[3])
want = {"app": "lsapp", "pid": e["pid"], "kind": "heap", "samples": e["samples"], "status": "ok"}
for k, v in want.items():
    if r[k] != v:
        sys.exit(f"FAIL: {k} = {r[k]!r}, want {v!r}")
if not r["tripped"].startswith("heap ") or ">= abs 24" not in r["tripped"]:
    sys.exit(f"FAIL: tripped = {r['tripped']!r}")
if [x["time"] for x in rows] != sorted(x["time"] for x in rows):
    sys.exit("FAIL: rows are not oldest first")
PY

# A dump with no event (copied in under a later name) and an event whose file is gone.
# (heap_leak waits for a dump in the directory: a second run would find the
# first's, so the gone file is a copy of the first dump and of its event.)
other=lsapp.1.heap.20000101T000000.9.pb.gz
cp "$DUMPS/$heap" "$DUMPS/$other"
grep -F "\"file\":\"$DUMPS/$heap\"" "$DUMPS/events.jsonl" | head -1 |
    sed "s|$heap|$other|; s|\"pid\":[0-9]*|\"pid\":1|; s|\"time\":\"[^\"]*\"|\"time\":\"2000-01-01T00:00:00.000Z\"|" >> "$DUMPS/events.jsonl"
rm "$DUMPS/$other"
cp "$DUMPS/$heap" "$DUMPS/lsapp.999999.heap.29991231T235959.7.pb.gz"
echo 'not json' >> "$DUMPS/events.jsonl"
"$CONAN" ls "$DUMPS" > "$WORK/table" 2> "$WORK/err" || fail "conan ls failed: $(cat "$WORK/err")"
[ "$(wc -l < "$WORK/err")" -eq 1 ] && grep -q 'events.jsonl: 1 line not an event, skipped' "$WORK/err" \
    || fail "the bad line was not reported once: $(cat "$WORK/err")"
head -1 "$WORK/table" | grep -q $'^time (UTC)\tapp\tpid\tkind\ttripped\tsamples\tsize\tfile$' || fail "header: $(head -1 "$WORK/table")"
! grep -q $'\033' "$WORK/table" || fail "colour codes in plain output"
tail -1 "$WORK/table" | grep -q $'^2999-12-31 23:59:59\tlsapp\t999999\theap\t-\t-\t.*\t.*lsapp.999999.heap.29991231T235959.7.pb.gz (no event)$' \
    || fail "the dump without an event is not last and marked: $(tail -1 "$WORK/table")"
grep -q "$other (file gone)\$" "$WORK/table" || fail "the removed dump is not marked gone: $(cat "$WORK/table")"
awk -F'\t' 'NF != 8 { exit 1 }' "$WORK/table" || fail "rows are not 8 tab-separated fields: $(cat "$WORK/table")"

# A relative directory: each dump once, paired with its event.
(cd "$WORK" && "$CONAN" ls dumps) > "$WORK/relative" 2>/dev/null || fail "conan ls with a relative directory failed"
[ "$(grep -c 'no event' "$WORK/relative")" = "$(grep -c 'no event' "$WORK/table")" ] ||
    fail "with a relative directory, dumps lose their events: $(cat "$WORK/relative")"

"$CONAN" ls "$WORK/nowhere" > "$WORK/out" 2> "$WORK/err"
[ $? -eq 1 ] && [ ! -s "$WORK/out" ] && [ "$(wc -l < "$WORK/err")" -eq 1 ] && grep -q "nowhere" "$WORK/err" \
    || fail "a missing directory: $(cat "$WORK/err")"
exit 0
