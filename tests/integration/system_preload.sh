#!/usr/bin/env bash
# System-wide preload with an allowlist: with libconan in /etc/ld.so.preload
# and /etc/conan/conan.json naming one program in "only", every program the
# machine starts loads the library, and all but that one stay inert. Run in a
# private mount namespace over an overlay of /etc, so the machine's own
# /etc/ld.so.preload is never touched. Outside and inside, a shell pipeline,
# ls and python3 must print the same bytes and exit the same way, start no
# thread and install no signal handler; only the allowlisted workload writes
# dumps, found through the system config (no CONAN_CONFIG anywhere). Then
# the system config's failures, all silent in programs that only
# /etc/ld.so.preload brought libconan into, and shown to an explicit
# LD_PRELOAD: no system config (nothing is watched), a malformed one, and one
# that others may write (refused: every root daemon would obey it).
. "$(dirname "$0")/lib.sh"
skip_if_sanitized "the sanitizer's runtime must come first in LD_PRELOAD, and /etc/ld.so.preload comes after it"
[ "$(id -u)" -eq 0 ] || skip "needs root for a mount namespace and an overlay of /etc"
unshare -m true 2>/dev/null || skip "unshare -m is refused here"
python=/usr/bin/python3
[ -x $python ] || skip "no /usr/bin/python3"
unset CONAN_CONFIG

mkdir -p "$WORK/etc-up/conan" "$WORK/etc-work" "$WORK/plain" "$WORK/system" "$WORK/listed"
touch "$WORK/listed/a" "$WORK/listed/b"
printf '%s\n' "$LIBCONAN" > "$WORK/etc-up/ld.so.preload"
write_config "$WORK/etc-up/conan/conan.json" '{ "only": ["nginx", "two_thr*"], "dump_dir": "@DUMPS@",
  "interval_ms": 100, "cpu": { "min": 0, "abs": '"$BUSY_ABS"', "window": 0, "profile_seconds": 1 } }'

# probes DIR — the programs whose behaviour must not change, outputs in DIR.
cat > "$WORK/probes.sh" <<PROBES
out=\$1
sh -c 'printf "b\na\n" | sort | tr a-z A-Z; echo tasks \$(ls /proc/self/task | wc -l); exit 3' >"\$out/pipe.out" 2>"\$out/pipe.err"
echo \$? >"\$out/pipe.rc"
ls -l "$WORK/listed" >"\$out/ls.out" 2>"\$out/ls.err"
echo \$? >"\$out/ls.rc"
$python -c '
import os, sys
print("threads", len(os.listdir("/proc/self/task")))
print([l.strip() for l in open("/proc/self/status") if l.startswith(("SigCgt", "SigBlk"))])
sys.exit(5)' >"\$out/py.out" 2>"\$out/py.err"
echo \$? >"\$out/py.rc"
$python -c 'print(any("libconan" in l for l in open("/proc/self/maps")))' >"\$out/loaded"
PROBES

# in_system SCRIPT — runs SCRIPT (bash, $1 = $WORK, $2 = $WORKLOADS) in a
# mount namespace where /etc is an overlay with $WORK/etc-up on top.
in_system() {
    rm -rf "$WORK/etc-work" && mkdir "$WORK/etc-work"
    unshare -m bash -c '
        mount --make-rprivate / &&
        mount -t overlay overlay -o "lowerdir=/etc,upperdir=$1/etc-up,workdir=$1/etc-work" /etc || exit 99
        '"$1"'
    ' _ "$WORK" "$WORKLOADS"
}
in_system true; rc=$?
[ $rc -ne 99 ] || skip "an overlay of /etc cannot be mounted here (is /tmp itself an overlay?)"
[ $rc -eq 0 ] || fail "a mount namespace with an overlay of /etc: exit $rc"

bash "$WORK/probes.sh" "$WORK/plain"
in_system 'bash "$1/probes.sh" "$1/system"; "$2/two_threads" 2 >"$1/system/workload.out" 2>"$1/system/workload.err"' ||
    fail "could not run the probes in a mount namespace with an overlay of /etc"

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

# The system config's failures. Each: the allowlisted workload and python3
# stay inert and silent; an explicit LD_PRELOAD of the same library is told.
# system_case NAME WHAT-AN-EXPLICIT-PRELOAD-MUST-SAY (empty: nothing)
system_case() {
    local name=$1 told=$2 dir="$WORK/$1"
    mkdir -p "$dir"
    rm -rf "$DUMPS"
    in_system 'bash "$1/probes.sh" "$1/'"$name"'"; "$2/two_threads" 1 >"$1/'"$name"'/workload.out" 2>"$1/'"$name"'/workload.err";
        LD_PRELOAD="'"$LIBCONAN"'" /bin/true 2>"$1/'"$name"'/explicit.err"' || fail "$name: the namespace run failed"
    same_output "$WORK/plain/py" "$dir/py"
    [ ! -s "$dir/workload.err" ] || fail "$name: the allowlisted workload printed: $(cat "$dir/workload.err")"
    [ ! -e "$DUMPS" ] || fail "$name: something was profiled: $(ls "$DUMPS")"
    if [ -n "$told" ]; then
        grep -q "$told" "$dir/explicit.err" || fail "$name: an explicit LD_PRELOAD was not told '$told': $(cat "$dir/explicit.err")"
        note "$name: $(cat "$dir/explicit.err")"
    fi
}
rm "$WORK/etc-up/conan/conan.json"
system_case no_config ""
printf '{ "only": ["two_threads"], "dump_dir": "%s", }\n' "$DUMPS" > "$WORK/etc-up/conan/conan.json"
system_case malformed "conan.json: \$: malformed JSON"
write_config "$WORK/etc-up/conan/conan.json" '{ "only": ["two_threads"], "dump_dir": "@DUMPS@" }'
chmod 0666 "$WORK/etc-up/conan/conan.json"
system_case writable "must be owned by root and writable by root alone"
exit 0
