#!/usr/bin/env bash
# The wall profile (issue 16): threads waiting in functions of their own name
# on a pipe read, a futex, a nanosleep and an epoll_wait, beside a spinning
# thread, through one CPU window (on demand) with wall.hz 20. Read with go
# tool pprof (-raw through raw_samples.py, and -tagfocus on syscall and state):
# - each waiter's samples carry its function, state sleeping and its system
#   call; the spinner's are state running, mostly in its function;
# - every thread is counted once a round: its wall/nanoseconds is the rounds
#   times 1/hz, and the rounds cover most of the window (missed rounds are
#   counted in the comment: a loaded machine may make the monitor late);
# - none of the waiters retries on EINTR (a wait cut short exits 3): the
#   output and exit status are those of a run without the shim.
. "$(dirname "$0")/lib.sh"
require_go
SLEEP_MS=4000 # the sleeper's one nanosleep outlasts the 2 s window (the run without the shim: 0)
"$WORKLOADS/wall_waits" - 0 >"$WORK/plain.out" 2>"$WORK/plain.err" || fail "without the shim: $(cat "$WORK/plain.err")"
write_config "$WORK/c.json" '{ "dump_dir": "@DUMPS@", "cpu": { "min": 1000, "abs": 1000, "profile_seconds": 2 },
  "heap": { "enable": false, "sample_bytes": 0 }, "memory": { "enable": false }, "threads": { "enable": false },
  "wall": { "hz": 20 } }'
under_shim "$WORK/c.json" "$WORKLOADS/wall_waits" "$DUMPS" $SLEEP_MS >"$WORK/out" 2>"$WORK/err"
status=$?
[ "$status" = 0 ] || fail "status $status with the shim: $(cat "$WORK/err")"
cmp -s "$WORK/plain.out" "$WORK/out" || fail "output changed: $(cat "$WORK/out")"
[ ! -s "$WORK/err" ] || fail "stderr: $(cat "$WORK/err")"
[ "$(count_dumps wall)" -eq 1 ] && [ "$(count_dumps cpu)" -eq 1 ] || fail "want one cpu and one wall profile: $(ls "$DUMPS")"
file="$DUMPS/$(dumps_of_kind wall)"
pprof -raw "$file" >"$WORK/raw" || fail "go tool pprof -raw failed: $(cat "$WORK/pprof.err")"
python3 "$(dirname "$0")/raw_samples.py" <"$WORK/raw" >"$WORK/samples" || fail "raw_samples.py failed"
duration=$(json_field "$(grep '"kind":"wall"' "$DUMPS/events.jsonl")" duration_s)
python3 - "$WORK/samples" "$WORK/raw" "$duration" "${SANITIZED:-}" <<'PY' || fail "the wall profile is wrong"
import json, re, sys
samples = [json.loads(l) for l in open(sys.argv[1])]
raw = open(sys.argv[2]).read()
duration = float(sys.argv[3])
sanitized = sys.argv[4] != ""
tsan = sys.argv[4] == "tsan"
m = re.search(r"wall: (\d+) Hz, (\d+) rounds over", raw)
hz, rounds = int(m.group(1)), int(m.group(2))
period = 10**9 // hz
ok = True
def bad(msg):
    global ok
    ok = False
    print("FAIL:", msg, file=sys.stderr)
if rounds * period < 0.7 * duration * 1e9:
    bad(f"{rounds} rounds at {hz} Hz cover less than 70% of the {duration:.2f} s window")
waiters = {"w-pipe": ("wait_on_pipe", "read"), "w-futex": ("wait_on_futex", "futex"),
           "w-sleep": ("wait_in_nanosleep", "nanosleep|clock_nanosleep"),
           "w-epoll": ("wait_in_epoll", "epoll_wait|epoll_pwait")}
for thread, (function, syscall) in list(waiters.items()) + [("w-busy", ("spin_in_busy_loop", None))]:
    mine = [s for s in samples if s["labels"].get("thread") == thread]
    wall_ns = sum(s["values"][1] for s in mine)
    # counted once a round (a round may fall between its start and its first look)
    if not (rounds - 1) * period <= wall_ns <= rounds * period:
        bad(f"{thread}: {wall_ns} ns, want {rounds} rounds of {period} ns")
    if syscall:
        for s in mine:
            # Under a sanitizer its interceptor (read, nanosleep, epoll_wait) is
            # the caller of the system call, and the walk from /proc ends there.
            cut = sanitized and any(f.startswith("__interceptor_") for f in s["functions"])
            if (function not in s["functions"] and not cut) or s["labels"].get("state") != "sleeping" \
                    or not re.fullmatch(syscall, s["labels"].get("syscall", "")):
                bad(f"{thread}: a sample not in {function}, sleeping in {syscall}: {s}")
    else:
        # TSan holds an asynchronous signal until its thread calls one of its
        # interceptors, which a spinning loop never does: no answer, but running.
        running = sum(s["values"][1] for s in mine
                      if s["labels"].get("state") == "running" and (function in s["functions"] or tsan))
        if running < 0.5 * wall_ns:
            bad(f"{thread}: {running} of {wall_ns} ns running in {function}")
sys.exit(0 if ok else 1)
PY
# The same through go tool pprof's own label filters (under a sanitizer the
# walk ends at its interceptor: the leaf is the C library's call then).
epoll=wait_in_epoll pipe=wait_on_pipe
[ -z "$SANITIZED" ] || { epoll='wait_in_epoll|epoll_wait' pipe='wait_on_pipe|[^_]read$'; }
pprof -top -tagfocus=syscall=epoll_wait,epoll_pwait "$file" | grep -qE "$epoll" \
    || fail "go tool pprof -tagfocus=syscall=epoll_wait does not show wait_in_epoll"
pprof -top -tagfocus=syscall=read "$file" | grep -qE "$pipe" || fail "-tagfocus=syscall=read does not show wait_on_pipe"
top_running=$(pprof -top -tagfocus=state=running "$file")
[ "$SANITIZED" = tsan ] || printf '%s\n' "$top_running" | grep -q spin_in_busy_loop \
    || fail "-tagfocus=state=running does not show spin_in_busy_loop"
printf '%s\n' "$top_running" | grep -qE 'wait_on_pipe|wait_on_futex|wait_in_nanosleep|wait_in_epoll' \
    && fail "-tagfocus=state=running shows a waiter"
exit 0
