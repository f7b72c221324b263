#!/usr/bin/env bash
# System-wide preload with an allowlist: with libconan in /etc/ld.so.preload
# and /etc/conan/conan.json naming one program in "only", every program the
# machine starts loads the library, and all but that one stay inert. Run in a
# private mount namespace over an overlay of /etc, so the machine's own
# /etc/ld.so.preload is never touched. Outside and inside, a shell pipeline,
# ls and python3 must print the same bytes and exit the same way, start no
# thread and install no signal handler; only the allowlisted workload writes
# dumps, found through the system config (no CONAN_CONFIG anywhere).
. "$(dirname "$0")/lib.sh"
skip_if_sanitized "the sanitizer's runtime must come first in LD_PRELOAD, and /etc/ld.so.preload comes after it"
[ "$(id -u)" -eq 0 ] || skip "needs root for a mount namespace and an overlay of /etc"
unshare -m true 2>/dev/null || skip "unshare -m is refused here"
python=/usr/bin/python3
[ -x $python ] || skip "no /usr/bin/python3"
unset CONAN_CONFIG

mkdir -p "$WORK/etc-up/conan" "$WORK/etc-work" "$WORK/plain" "$WORK/system"
printf '%s\n' "$LIBCONAN" > "$WORK/etc-up/ld.so.preload"
write_config "$WORK/etc-up/conan/conan.json" '{ "only": ["nginx", "two_thr*"], "dump_dir": "@DUMPS@",
  "interval_ms": 100, "cpu": { "min": 0, "abs": '"$BUSY_ABS"', "window": 0, "profile_seconds": 1 } }'

# probes DIR — the programs whose behaviour must not change, outputs in DIR.
cat > "$WORK/probes.sh" <<PROBES
out=\$1
sh -c 'printf "b\na\n" | sort | tr a-z A-Z; echo tasks \$(ls /proc/self/task | wc -l); exit 3' >"\$out/pipe.out" 2>"\$out/pipe.err"
echo \$? >"\$out/pipe.rc"
ls -la "$SOURCE_ROOT/include" >"\$out/ls.out" 2>"\$out/ls.err"
echo \$? >"\$out/ls.rc"
$python -c '
import os, sys
print("threads", len(os.listdir("/proc/self/task")))
print([l.strip() for l in open("/proc/self/status") if l.startswith(("SigCgt", "SigBlk"))])
sys.exit(5)' >"\$out/py.out" 2>"\$out/py.err"
echo \$? >"\$out/py.rc"
$python -c 'print(any("libconan" in l for l in open("/proc/self/maps")))' >"\$out/loaded"
PROBES

bash "$WORK/probes.sh" "$WORK/plain"
unshare -m bash -c '
    set -e
    mount --make-rprivate /
    mount -t overlay overlay -o "lowerdir=/etc,upperdir=$1/etc-up,workdir=$1/etc-work" /etc
    bash "$1/probes.sh" "$1/system"
    "$2/two_threads" 2 >"$1/system/workload.out" 2>"$1/system/workload.err"
' _ "$WORK" "$WORKLOADS" || fail "could not run the probes in a mount namespace with an overlay of /etc"

[ "$(cat "$WORK/plain/loaded")" = False ] || fail "libconan is loaded outside the namespace: the test's baseline is wrong"
[ "$(cat "$WORK/system/loaded")" = True ] || fail "/etc/ld.so.preload did not load libconan into python3 inside the namespace"
for probe in pipe ls py; do
    same_output "$WORK/plain/$probe" "$WORK/system/$probe"
    cmp -s "$WORK/plain/$probe.rc" "$WORK/system/$probe.rc" ||
        fail "$probe: exit status $(cat "$WORK/system/$probe.rc") under the system-wide preload, $(cat "$WORK/plain/$probe.rc") without"
done
grep -q "^tasks 1$" "$WORK/system/pipe.out" || fail "ls started a thread: $(cat "$WORK/system/pipe.out")"
grep -q "^threads 1$" "$WORK/system/py.out" || fail "python3 started a thread: $(cat "$WORK/system/py.out")"
note "inert: $(tr '\n' ' ' < "$WORK/system/py.out")"

# The allowlisted program: profiled, through the system config.
[ "$(cat "$WORK/system/workload.out")" = "two_threads done" ] || fail "workload output: $(cat "$WORK/system/workload.out")"
[ ! -s "$WORK/system/workload.err" ] || fail "workload stderr: $(cat "$WORK/system/workload.err")"
[ "$(count_dumps cpu)" -ge 1 ] || fail "the allowlisted two_threads wrote no CPU profile: $(ls "$DUMPS" 2>&1)"
others=$(ls "$DUMPS" | grep -v -E '^(two_threads\.|events\.jsonl$)' || true)
[ -z "$others" ] || fail "programs outside the allowlist wrote files: $others"
grep -v '"app":"two_threads"' "$DUMPS/events.jsonl" && fail "events from programs outside the allowlist"
note "dumps: $(ls "$DUMPS" | tr '\n' ' ')"
exit 0
