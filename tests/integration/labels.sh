#!/usr/bin/env bash
# Labels a program sets are carried by exactly the samples taken while they
# were set. label_server (the README's example) labels each request with its
# route (a C++ scope guard), its tenant bucket (set/clear) and, inside
# /users/:id, a nested stage=db around db_query; its bookkeeping between
# requests carries none. Read through go tool pprof -raw:
#   - every CPU sample in a handler carries that handler's route and a tenant;
#     every one in db_query carries stage=db, and no other stage;
#   - no sample in the bookkeeping carries a route, a tenant or a stage;
#   - labelled samples outside their handler (taken between the set and the
#     call) are at most 2% of them;
#   - the heap profile's blocks from handle_users carry route=/users/:id;
#   - go tool pprof -tagfocus=route=/orders keeps handle_orders alone.
# label_dlsym, preloaded, finds the calls with dlsym: its labelled_work carries job=nightly
# and its unlabelled_work nothing; without the shim it finds no symbol; with
# mode "off" the calls return -1 and it carries on.
. "$(dirname "$0")/lib.sh"
require_go
write_config "$WORK/c.json" '{ "dump_dir": "@DUMPS@", "cpu": { "profile_seconds": 2, "hz": 250 },
  "heap": { "sample_bytes": 65536 } }'

# label_server links libconan (-lconan): no LD_PRELOAD, so the sanitized
# passes run it with the plain library; label_dlsym below runs under theirs.
out=$(CONAN_CONFIG="$WORK/c.json" "$WORKLOADS/label_server" 3.5) || fail "label_server exited $?"
[ "$out" = "label_set 0 request 0" ] || fail "label_server printed: $out"
cpu="$DUMPS/$(dumps_of_kind cpu)" heap="$DUMPS/$(dumps_of_kind heap)"
[ -f "$cpu" ] && [ -f "$heap" ] || fail "want a cpu and a heap dump: $(ls "$DUMPS")"

samples() { pprof -raw "$1" | python3 "$(dirname "$0")/raw_samples.py"; }
samples "$cpu" > "$WORK/cpu.jsonl" && [ -s "$WORK/cpu.jsonl" ] || fail "go tool pprof -raw read nothing from $cpu"
samples "$heap" > "$WORK/heap.jsonl" && [ -s "$WORK/heap.jsonl" ] || fail "go tool pprof -raw read nothing from $heap"

python3 - "$WORK/cpu.jsonl" "$WORK/heap.jsonl" <<'PY' || fail "labels on the wrong samples (above)"
import json, sys
handler = {"handle_users()": "/users/:id", "handle_orders()": "/orders", "handle_health()": "/health"}
bad, count = [], {"labelled": 0, "outside": 0, "handler": 0, "bookkeeping": 0, "db": 0}
def check(s, where):
    f, l = s["functions"], s["labels"]
    ticks = s["values"][0]
    mine = [r for h, r in handler.items() if h in f]
    if mine:
        count["handler"] += ticks
        if l.get("route") != mine[0] or l.get("tenant") not in ("bucket-1", "bucket-2"):
            bad.append(f"{where}: in {mine[0]}'s handler with labels {l}")
    if "db_query()" in f:
        count["db"] += ticks
        if l.get("stage") != "db": bad.append(f"{where}: in db_query with labels {l}")
    if "do_bookkeeping()" in f:
        count["bookkeeping"] += ticks
        if {"route", "tenant", "stage"} & l.keys(): bad.append(f"{where}: bookkeeping with labels {l}")
    if "route" in l:
        count["labelled"] += ticks
        if not mine: count["outside"] += ticks
    if "stage" in l and "db_query()" not in f:
        count["outside"] += ticks
for line in open(sys.argv[1]): check(json.loads(line), "cpu")
if count["handler"] < 100 or count["bookkeeping"] < 20 or count["db"] < 20:
    bad.append(f"too few samples to judge: {count}")
if count["outside"] > 0.02 * count["labelled"]:
    bad.append(f"labelled samples outside their handler: {count}")
heap_users = 0
for line in open(sys.argv[2]):
    s = json.loads(line)
    if "handle_users()" in s["functions"]:
        heap_users += 1
        if s["labels"].get("route") != "/users/:id": bad.append(f"heap: handle_users's blocks with labels {s['labels']}")
if not heap_users: bad.append("heap: no sample of handle_users's blocks")
print("# cpu ticks:", count, "heap samples of handle_users:", heap_users)
for b in bad[:10]: print("FAIL:", b, file=sys.stderr)
sys.exit(1 if bad else 0)
PY

focus=$(pprof -top -tagfocus=route=/orders "$cpu") || fail "go tool pprof -tagfocus failed: $(cat "$WORK/pprof.err")"
grep -q handle_orders <<<"$focus" || fail "-tagfocus=route=/orders lost handle_orders"
grep -q -e handle_users -e do_bookkeeping <<<"$focus" && fail "-tagfocus=route=/orders kept other code: $focus"
top=$("$CONAN" top --tag route=/orders "$cpu") || fail "conan top --tag failed"
grep -q handle_orders <<<"$top" && ! grep -q handle_users <<<"$top" || fail "conan top --tag route=/orders: $top"

# dlsym, in a program that does not link libconan
rm -rf "${DUMPS:?}"/*
out=$(under_shim "$WORK/c.json" "$WORKLOADS/label_dlsym" 2000) || fail "label_dlsym exited $?"
[ "$(printf '%s\n' "$out" | sort -u | tr '\n' ' ')" = "label_set 0 request 0 " ] || fail "label_dlsym printed: $out"
samples "$DUMPS/$(dumps_of_kind cpu)" > "$WORK/dlsym.jsonl" || fail "no cpu dump of label_dlsym"
python3 - "$WORK/dlsym.jsonl" <<'PY' || fail "label_dlsym's labels on the wrong samples"
import json, sys
seen = {"labelled_work": 0, "unlabelled_work": 0}
ok = True
for line in open(sys.argv[1]):
    s = json.loads(line)
    for fn, want in (("labelled_work", "nightly"), ("unlabelled_work", None)):
        if fn in s["functions"]:
            seen[fn] += s["values"][0]
            if s["labels"].get("job") != want:
                print(f"FAIL: {fn} with labels {s['labels']}", file=sys.stderr); ok = False
print("# label_dlsym ticks:", seen)
sys.exit(0 if ok and min(seen.values()) > 0 else 1)
PY
[ "$("$WORKLOADS/label_dlsym" 10)" = absent ] || fail "label_dlsym found the calls without the shim"
write_config "$WORK/off.json" '{ "mode": "off", "dump_dir": "@DUMPS@" }'
out=$(under_shim "$WORK/off.json" "$WORKLOADS/label_dlsym" 100) || fail "label_dlsym exited $? with mode off"
[ "$(printf '%s\n' "$out" | sort -u | tr '\n' ' ')" = "label_set -1 request -1 " ] || fail "mode off: label_dlsym printed: $out"
exit 0
