#!/usr/bin/env bash
# Figure 8: what a system-wide preload costs the programs it does not watch.
# With libconan in /etc/ld.so.preload every program loads it; one that the
# config's `only` list does not name must stay inert, and the price is then
# loading the library and its dependencies plus the constructor's decision.
# Measured on /bin/true (the worst case: start-up is all it does), paired and
# interleaved: plain, inert (a config whose `only` names another program) and,
# for scale, watched (the default config: monitor thread started and stopped).
# Medians of the paired differences over ROUNDS × 200 runs; wall time from
# posix_spawn to waitpid.
DEFAULT_ROUNDS=5
. "$(dirname "$0")/lib.sh"
runs=200
[ "$QUICK" = 1 ] && runs=40
printf '{ "only": ["nginx"] }\n' > "$WORK/inert.json"
printf '{ "dump_dir": "%s/dumps" }\n' "$WORK" > "$WORK/watched.json"
python3 - "$LIBCONAN" "$WORK" "$ROUNDS" "$runs" > "$WORK/startup" <<'PY' || die "the start-up timing failed"
import os, sys, time, statistics
lib, work, rounds, runs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
base = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "CONAN_CONFIG")}
envs = {
    "plain": base,
    "inert": dict(base, LD_PRELOAD=lib, CONAN_CONFIG=work + "/inert.json"),
    "watched": dict(base, LD_PRELOAD=lib, CONAN_CONFIG=work + "/watched.json"),
}
def once(env):
    t = time.perf_counter_ns()
    pid = os.posix_spawn("/bin/true", ["/bin/true"], env)
    _, status = os.waitpid(pid, 0)
    if status != 0:
        sys.exit("/bin/true failed")
    return (time.perf_counter_ns() - t) / 1000.0
for name in envs:  # warm the page cache
    once(envs[name])
diffs = {"inert": [], "watched": []}
plain = []
for r in range(rounds):
    for i in range(runs):
        order = ["plain", "inert", "watched"] if i % 2 else ["watched", "inert", "plain"]
        t = {name: once(envs[name]) for name in order}
        plain.append(t["plain"])
        for k in diffs:
            diffs[k].append(t[k] - t["plain"])
print("plain", statistics.median(plain))
for k, v in diffs.items():
    print(k, statistics.median(v))
PY
read -r _ plain < <(grep '^plain ' "$WORK/startup")
read -r _ inert < <(grep '^inert ' "$WORK/startup")
read -r _ watched < <(grep '^watched ' "$WORK/startup")
note "/bin/true: $plain µs plain; +$inert µs inert under the preload, +$watched µs watched (median paired differences, $ROUNDS × $runs runs)"
result 8 "true_plain_us" "$(printf %.0f "$plain")" µs -
result 8 "true_inert_extra_us" "$(printf %.0f "$inert")" µs "<=1000"
result 8 "true_watched_extra_us" "$(printf %.0f "$watched")" µs -
exit $STATUS
