#!/usr/bin/env bash
# conan symbolize: a stripped binary's unnamed frames get their names, files
# and lines (inlined frames too) from a debug file found by build ID, as
# binutils' addr2line reads them from the unstripped binary; C++ names are
# demangled with the mangled one kept; a file with another build ID is never
# used; a Debian binary without its -dbgsym package gets no guessed names and
# its build ID is reported; bad inputs fail with one line.
. "$SOURCE_ROOT/tests/integration/lib.sh"
require_go
for tool in objcopy readelf addr2line; do
    command -v $tool >/dev/null || skip "$tool (binutils) is not installed; scripts/setup.sh installs it"
done
mkdir -p "$DUMPS"

build_id() { readelf -n "$1" 2>/dev/null | awk '/Build ID:/ { print $3; exit }'; }
raw() { pprof -raw -symbolize=none "$1" || fail "pprof cannot read $1: $(cat "$WORK/pprof.err")"; }
locations() { raw "$1" | sed -n '/^Locations/,/^Mappings/p'; }

# stripped_copy SRC DEST — DEST stripped, its debug file put in $DBG's .build-id
# layout; prints the build ID.
DBG="$WORK/debug"
stripped_copy() {
    local bid
    objcopy --only-keep-debug "$1" "$WORK/tmp.debug" || fail "objcopy --only-keep-debug $1"
    objcopy --strip-all --add-gnu-debuglink="$WORK/tmp.debug" "$1" "$2" || fail "objcopy --strip-all $1"
    bid=$(build_id "$2")
    [ -n "$bid" ] && [ "$bid" = "$(build_id "$1")" ] || fail "$2: no build ID, or not the one of $1"
    mkdir -p "$DBG/.build-id/${bid:0:2}"
    mv "$WORK/tmp.debug" "$DBG/.build-id/${bid:0:2}/${bid:2}.debug"
    echo "$bid"
}

# cpu_dump_of CMD... — runs CMD under the shim, asks for a profile once it
# runs, and prints the CPU dump's path.
write_config "$WORK/quiet.json" '{ "app": "sym", "interval_ms": 100, "dump_dir": "@DUMPS@",
  "cpu": { "abs": 1000, "window": 0, "profile_seconds": 1 } }'
cpu_dump_of() {
    rm -rf "$DUMPS"; mkdir -p "$DUMPS"
    env LD_PRELOAD="$LIBCONAN" CONAN_CONFIG="$WORK/quiet.json" "$@" >/dev/null 2>&1 &
    local pid=$!
    sleep 0.3   # setup: let the shim start before the request
    touch "$DUMPS/conan.trigger.$pid"
    wait $pid || fail "$1 failed under the shim"
    [ "$(count_dumps cpu)" -eq 1 ] || fail "$1: want 1 cpu dump, got $(count_dumps cpu)"
    echo "$DUMPS/$(dumps_of_kind cpu)"
}

# json_row_flat JSON NAME — the flat value of NAME in conan top --json ("" if absent).
json_row_flat() {
    python3 -c 'import json,sys; r=[x["flat"] for x in json.load(open(sys.argv[1]))["rows"] if x["name"]==sys.argv[2]]; print(r[0] if r else "")' "$1" "$2"
}

# 1. A stripped spike, its debug file only under --debug-dir/.build-id.
bid=$(stripped_copy "$WORKLOADS/spike" "$WORK/spike") || exit 1
dump=$(cpu_dump_of "$WORK/spike" 0 2000 1 0) || exit 1
cp "$dump" "$WORK/before.pb.gz"
"$CONAN" top --json "$WORK/before.pb.gz" >"$WORK/before.json" || fail "conan top cannot read the stripped dump"
grep -q burn_cpu_in_spike "$WORK/before.json" && fail "the stripped binary's dump already names burn_cpu_in_spike"
pprof -top -symbolize=none "$WORK/before.pb.gz" | grep -q burn_cpu_in_spike && fail "pprof names burn_cpu_in_spike before"
stripped_flat=$(json_row_flat "$WORK/before.json" "[spike]")
[ -n "$stripped_flat" ] && [ "$stripped_flat" -gt 0 ] || fail "no flat samples in [spike] before: $(cat "$WORK/before.json")"

"$CONAN" symbolize "$WORK/before.pb.gz" -o "$WORK/after.pb.gz" --debug-dir "$WORK/none" --debug-dir "$DBG" \
    2>"$WORK/sym.err" || fail "symbolize failed: $(cat "$WORK/sym.err")"
# One summary line; a sample that landed in the kernel's vDSO (clock_gettime)
# adds a line for it, as it is no file: nothing else may be said.
grep -q '^conan symbolize: named [0-9]* of [0-9]* unnamed locations' <(head -1 "$WORK/sym.err") \
    && [ "$(grep -vc '^conan symbolize: \[vdso\] ' "$WORK/sym.err")" -eq 1 ] \
    || fail "want one summary line (and [vdso] lines), got: $(cat "$WORK/sym.err")"
n=$(sed -n 's/^conan symbolize: named \([0-9]*\) of \([0-9]*\) unnamed locations.*/\1 \2/p' "$WORK/sym.err")
[ -n "$n" ] && [ "${n% *}" -gt 0 ] || fail "nothing named: $(cat "$WORK/sym.err")"
[ "${n% *}" = "${n#* }" ] || grep -q '^conan symbolize: \[vdso\] ' "$WORK/sym.err" \
    || fail "not all unnamed locations named, and not for the vDSO: $(cat "$WORK/sym.err")"
"$CONAN" top --json "$WORK/after.pb.gz" >"$WORK/after.json" || fail "conan top cannot read the symbolized profile"
grep -q '"name":"burn_cpu_in_spike"' "$WORK/after.json" || fail "conan top: no burn_cpu_in_spike after symbolize"
grep -q "\[spike\]" "$WORK/after.json" && fail "conan top still shows [spike] after symbolize"
# burn_wall_ms is inlined into burn_cpu_in_spike: with inlined frames folded
# into their caller (as the unstripped binary's symbol table names them),
# burn_cpu_in_spike has all the flat [spike] had.
flat=$(pprof -top -noinlines -symbolize=none -unit=ns "$WORK/after.pb.gz" |
    awk '$NF == "burn_cpu_in_spike" { sub(/ns$/, "", $1); print $1 }')
[ "$flat" = "$stripped_flat" ] || fail "pprof -noinlines: burn_cpu_in_spike flat $flat ns, [spike] had $stripped_flat ns"
pprof -top -symbolize=none "$WORK/after.pb.gz" | grep -q burn_cpu_in_spike || fail "pprof -top: no burn_cpu_in_spike"
pprof -top -lines -symbolize=none "$WORK/after.pb.gz" | grep -qE 'burn_cpu_in_spike [^ ]*/spike\.c:[0-9]+' ||
    fail "pprof -lines: no spike.c:LINE for burn_cpu_in_spike"
"$CONAN" top "$WORK/after.pb.gz" | grep -q "^conan symbolize: named .* from $DBG/.build-id/${bid:0:2}/${bid:2}.debug" ||
    fail "no comment saying what was symbolized from which file"
raw "$WORK/after.pb.gz" | grep -E "^[0-9]+: .* $WORK/spike $bid" | grep -q "\[FN\]" || fail "the spike mapping lacks has_functions"

# Every spike location's frames are what addr2line -f -i reads from the
# unstripped binary at that address (innermost first; file base name and line).
raw "$WORK/after.pb.gz" >"$WORK/after.raw"
python3 - "$WORK/after.raw" "$WORK/spike" "$WORKLOADS/spike" <<'PY' || fail "frames differ from addr2line's"
import os, re, subprocess, sys
raw, path, unstripped = sys.argv[1:]
text = open(raw).read()
maps = {}
for m in re.finditer(r"^(\d+): 0x([0-9a-f]+)/0x([0-9a-f]+)/0x([0-9a-f]+) (\S+)", text, re.M):
    maps[m.group(1)] = (int(m.group(2), 16), int(m.group(4), 16), m.group(5))
mid = [k for k, v in maps.items() if v[2] == path][0]
loads = []
for line in subprocess.run(["readelf", "-lW", unstripped], capture_output=True, text=True).stdout.splitlines():
    f = line.split()
    if f and f[0] == "LOAD":
        loads.append((int(f[1], 16), int(f[2], 16), int(f[4], 16)))
locs, cur = [], None
for line in text.split("Locations\n")[1].split("Mappings\n")[0].splitlines():
    m = re.match(r"\s+\d+: 0x([0-9a-f]+) M=(\d+) ?(.*)", line)
    if m:
        cur = (int(m.group(1), 16), m.group(2), [m.group(3)] if m.group(3) else [])
        locs.append(cur)
    elif line.strip():
        cur[2].append(line.strip())
checked = 0
for addr, m, frames in locs:
    if m != mid:
        continue
    start, off, _ = maps[m]
    fo = addr - start + off
    vaddr = [fo - o + v for o, v, fs in loads if o <= fo < o + fs][0]
    out = subprocess.run(["addr2line", "-f", "-i", "-e", unstripped, hex(vaddr)], capture_output=True, text=True).stdout.splitlines()
    want = []
    for fn, pos in zip(out[0::2], out[1::2]):
        pos = pos.split(" (discriminator")[0]
        file, _, ln = pos.rpartition(":")
        want.append("%s %s:%s" % (fn, "" if file == "??" else os.path.basename(file), "0" if ln == "?" else ln))
    got = []
    for f in frames:
        g = re.match(r"(\S+) (\S*):(\d+) s=\d+", f)
        got.append("%s %s:%s" % (g.group(1), os.path.basename(g.group(2)), g.group(3)))
    if got != want:
        sys.exit("0x%x: conan %s, addr2line %s" % (addr, got, want))
    checked += 1
if checked == 0:
    sys.exit("no spike locations")
PY

# 2. The debuglink beside the binary, no --debug-dir: found as well.
cp "$DBG/.build-id/${bid:0:2}/${bid:2}.debug" "$WORK/tmp.debug"
"$CONAN" symbolize "$WORK/before.pb.gz" -o "$WORK/linked.pb.gz" 2>"$WORK/sym.err" || fail "symbolize (debuglink) failed"
"$CONAN" top "$WORK/linked.pb.gz" | grep -q burn_cpu_in_spike || fail "the .gnu_debuglink file was not used: $(cat "$WORK/sym.err")"
rm "$WORK/tmp.debug"

# 3. Another binary at the mapping's path is never used; with the debug file
# found by build ID, that file alone names the frames.
other=$(stripped_copy "$WORKLOADS/idle" "$WORK/spike") || exit 1
"$CONAN" symbolize "$WORK/before.pb.gz" -o "$WORK/other.pb.gz" 2>"$WORK/sym.err" || fail "symbolize (other binary) failed"
grep -q "$WORK/spike on disk has build ID $other, not the profile's $bid: not used" "$WORK/sym.err" ||
    fail "no word of the different build ID: $(cat "$WORK/sym.err")"
[ "$(grep -c "build ID $other" "$WORK/sym.err")" -eq 1 ] || fail "the mismatch is not said once: $(cat "$WORK/sym.err")"
[ "$(locations "$WORK/other.pb.gz")" = "$(locations "$WORK/before.pb.gz")" ] || fail "locations changed with another binary"
"$CONAN" symbolize "$WORK/before.pb.gz" -o "$WORK/debugonly.pb.gz" --debug-dir "$DBG" 2>"$WORK/sym.err" || fail "symbolize failed"
[ "$(locations "$WORK/debugonly.pb.gz")" = "$(locations "$WORK/after.pb.gz")" ] ||
    fail "the debug file alone names the frames otherwise: $(cat "$WORK/sym.err")"

# 4. The object gone and no debug file: said, nothing named, exit 0.
rm "$WORK/spike"
"$CONAN" symbolize "$WORK/before.pb.gz" -o "$WORK/gone.pb.gz" 2>"$WORK/sym.err" || fail "symbolize (no file) failed"
grep -q "$WORK/spike (build ID $bid): no file with that build ID" "$WORK/sym.err" || fail "missing file not said: $(cat "$WORK/sym.err")"
[ "$(locations "$WORK/gone.pb.gz")" = "$(locations "$WORK/before.pb.gz")" ] || fail "locations changed with no file"

# 5. C++: the name demangled, the mangled one kept as the system name.
stripped_copy "$WORKLOADS/spike_cpp" "$WORK/spike_cpp" >/dev/null || exit 1
dump=$(cpu_dump_of "$WORK/spike_cpp" 0 2000) || exit 1
"$CONAN" top "$dump" | grep -q hot_loop && fail "the stripped C++ dump already names hot_loop"
"$CONAN" symbolize "$dump" -o "$WORK/cpp.pb.gz" --debug-dir "$DBG" 2>"$WORK/sym.err" || fail "symbolize (C++) failed"
raw "$WORK/cpp.pb.gz" | grep -qF 'conan_demo::Crunch::hot_loop(long)' || fail "no demangled hot_loop: $(raw "$WORK/cpp.pb.gz")"
raw "$WORK/cpp.pb.gz" | grep -qF '(_ZN10conan_demo6Crunch8hot_loopEl' || fail "no mangled system name for hot_loop"

# 6. A Debian binary stripped of its symbols (memcached), run under the shim
# and loaded by a small client. Without its -dbgsym package nothing is
# guessed: no location changes, and its build ID is reported.
memcached=/usr/sbin/memcached
[ -x "$memcached" ] || memcached=/usr/bin/memcached
if [ -x "$memcached" ]; then
    mbid=$(build_id "$memcached")
    rm -rf "$DUMPS"; mkdir -p "$DUMPS"
    env LD_PRELOAD="$LIBCONAN" CONAN_CONFIG="$WORK/quiet.json" "$memcached" -u root -s "$WORK/mc.sock" -t 2 -U 0 -p 0 >/dev/null 2>&1 &
    mpid=$!
    at_exit "kill $mpid 2>/dev/null"
    wait_for 10 test -S "$WORK/mc.sock" || fail "memcached did not start"
    python3 - "$WORK/mc.sock" "$DUMPS/conan.trigger.$mpid" <<'PY' || fail "the memcached client failed"
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
f = s.makefile("rb")
end, i = time.time() + 1.5, 0
while time.time() < end:
    if i == 200:
        open(sys.argv[2], "w").close()   # the request, under load
    key = b"key%d" % (i % 500)
    s.sendall(b"set " + key + b" 0 0 64\r\n" + b"v" * 64 + b"\r\nget " + key + b"\r\n")
    assert f.readline() == b"STORED\r\n"
    assert f.readline().startswith(b"VALUE")
    f.readline(); f.readline()
    i += 1
PY
    wait_for 10 test "$(count_dumps cpu)" -eq 1 || fail "no cpu dump from memcached"
    kill $mpid; wait $mpid 2>/dev/null
    tried=0
    for dump in "$DUMPS"/*.pb.gz; do
        "$CONAN" top "$dump" | grep -q '\[memcached\]' || continue
        tried=$((tried + 1))
        "$CONAN" symbolize "$dump" -o "$WORK/mc.pb.gz" 2>"$WORK/sym.err" || fail "symbolize (memcached) failed: $(cat "$WORK/sym.err")"
        if [ -e "/usr/lib/debug/.build-id/${mbid:0:2}/${mbid:2}.debug" ]; then
            "$CONAN" top "$WORK/mc.pb.gz" | grep -q '\[memcached\]' && fail "memcached-dbgsym is installed, yet [memcached] stays"
        else
            grep -q "$memcached (build ID $mbid): no debug info" "$WORK/sym.err" ||
                fail "memcached's missing debug info not reported: $(cat "$WORK/sym.err")"
            [ "$(locations "$WORK/mc.pb.gz")" = "$(locations "$dump")" ] || fail "$dump: locations changed without debug info"
        fi
    done
    [ $tried -gt 0 ] || fail "no memcached dump has [memcached] frames"
else
    note "memcached is not installed (scripts/setup.sh installs it): its part not run"
fi

# 7. Bad inputs: one line, exit 1; usage: exit 2.
"$CONAN" symbolize "$WORK/nothing.pb.gz" -o "$WORK/x.pb.gz" 2>"$WORK/err"; rc=$?
[ $rc -eq 1 ] && [ "$(wc -l <"$WORK/err")" -eq 1 ] && grep -q "nothing.pb.gz" "$WORK/err" || fail "missing input: rc $rc, $(cat "$WORK/err")"
[ ! -e "$WORK/x.pb.gz" ] || fail "an output was written for a missing input"
echo "not a profile" >"$WORK/text"
gzip -c "$WORK/text" >"$WORK/text.gz"
for bad in "$WORK/text" "$WORK/text.gz"; do
    "$CONAN" symbolize "$bad" -o "$WORK/x.pb.gz" 2>"$WORK/err"; rc=$?
    [ $rc -eq 1 ] && [ "$(wc -l <"$WORK/err")" -eq 1 ] || fail "$bad: rc $rc, $(cat "$WORK/err")"
    [ ! -e "$WORK/x.pb.gz" ] || fail "an output was written for $bad"
done
"$CONAN" symbolize "$WORK/before.pb.gz" 2>/dev/null; [ $? -eq 2 ] || fail "no -o is not a usage error"
"$CONAN" symbolize -o "$WORK/x.pb.gz" 2>/dev/null; [ $? -eq 2 ] || fail "no input is not a usage error"
"$CONAN" symbolize "$WORK/before.pb.gz" -o "$WORK/no/such/dir/x.pb.gz" 2>"$WORK/err"; rc=$?
[ $rc -eq 1 ] && [ "$(wc -l <"$WORK/err")" -eq 1 ] || fail "unwritable output: rc $rc, $(cat "$WORK/err")"
exit 0
