#!/usr/bin/env bash
# hostile.sh — conan top on files that are not good profiles: truncated, not
# gzip, not pprof, empty, a directory, missing, a gzip bomb past the reader's
# bound (PROFILE_MAX_RAW_BYTES, 1 GiB) and the hostile pprof seeds of
# tests/fuzz/profile_corpus (bad string indexes, dangling and repeated ids, id 0,
# value counts that do not match). Each must give exit status 1, nothing on
# stdout, and exactly one line on stderr starting with "conan: " and naming the
# file; never a crash. The bombs (gzip past 1 GiB; a protobuf whose messages
# would unpack into far more memory than its size) must be refused in bounded
# memory. The
# stress seeds (valid but extreme: INT64_MAX values, deep stacks, fan-outs) must
# be read: exit 0, a table, nothing on stderr; the INT64_MAX sums saturate.
. "$SOURCE_ROOT/tests/integration/lib.sh"
: "${CONAN:?CONAN must point at the conan tool}"
corpus="$SOURCE_ROOT/tests/fuzz/profile_corpus"
[ -d "$corpus" ] || fail "no seed corpus at $corpus"

# refused FILE [LIMIT_KB] — conan top FILE fails cleanly (under a memory limit
# of LIMIT_KB of address space when given); its peak RSS in KiB is left in
# $WORK/rss when /usr/bin/time is there (its own lines go to that file).
timer=()
[ -x /usr/bin/time ] && timer=(/usr/bin/time -f %M -o "$WORK/rss")
refused() {
    local file=$1 limit=${2:-unlimited} status lines
    (ulimit -v "$limit" && exec "${timer[@]}" "$CONAN" top "$file") >"$WORK/out" 2>"$WORK/err"
    status=$?
    [ "$status" -lt 128 ] || fail "$file: conan top died (status $status): $(head -c 300 "$WORK/err")"
    [ "$status" -eq 1 ] || fail "$file: exit status $status, expected 1; stderr: $(head -c 300 "$WORK/err")"
    [ ! -s "$WORK/out" ] || fail "$file: wrote to stdout: $(head -c 200 "$WORK/out")"
    lines=$(wc -l <"$WORK/err")
    [ "$lines" -eq 1 ] || fail "$file: $lines lines on stderr, expected one: $(head -c 400 "$WORK/err")"
    grep -qF "conan: $file: " "$WORK/err" || fail "$file: stderr does not start with 'conan: $file: ': $(cat "$WORK/err")"
}

# Made here: truncated and corrupt variants of a real dump, text, an ELF file.
real="$corpus/real-cpu.pb.gz"
head -c 700 "$real" >"$WORK/truncated.pb.gz"
head -c 11 "$real" >"$WORK/gzip-header-only.pb.gz"
printf '\037' >"$WORK/one-byte"
: >"$WORK/empty.pb.gz"
printf 'File: cpu.pb.gz\nType: cpu\n  flat  flat%%\n' >"$WORK/text.txt"
cp "$CONAN" "$WORK/elf-binary"
mkdir "$WORK/a-directory"
n=0
for f in "$WORK/truncated.pb.gz" "$WORK/gzip-header-only.pb.gz" "$WORK/one-byte" "$WORK/empty.pb.gz" \
    "$WORK/text.txt" "$WORK/elf-binary" "$WORK/a-directory" "$WORK/missing.pb.gz" "$corpus"/hostile-*; do
    refused "$f"
    n=$((n + 1))
done
note "$n hostile files refused with one line each"
grep -q 'string index out of range' < <("$CONAN" top "$corpus/hostile-string-index.pb" 2>&1) ||
    fail "a bad string index is not named as one"

# The stress seeds are valid: read, whatever their values.
for f in "$corpus"/stress-*; do
    "$CONAN" top "$f" >"$WORK/out" 2>"$WORK/err"
    status=$?
    [ "$status" -eq 0 ] || fail "$f: exit status $status, expected 0: $(head -c 300 "$WORK/err")"
    [ ! -s "$WORK/err" ] || fail "$f: wrote to stderr: $(head -c 300 "$WORK/err")"
    grep -q 'flat%' "$WORK/out" || fail "$f: no table"
done
"$CONAN" top --json "$corpus/stress-huge-values.pb" >"$WORK/json" || fail "stress-huge-values: --json failed"
grep -q '"total":9223372036854775807,' "$WORK/json" || fail "INT64_MAX sums do not saturate: $(cat "$WORK/json")"

# The bomb: 1100 MiB of zeros in one gzip member (~1.1 MB), built from one
# deflated MiB repeated (a full flush makes each copy independent), with the
# right CRC and length so only the bound can refuse it.
python3 - "$WORK/bomb.pb.gz" <<'PY' || fail "could not write the gzip bomb"
import struct, sys, zlib
mib, count = bytes(1 << 20), 1100
c = zlib.compressobj(9, zlib.DEFLATED, -15)
block = c.compress(mib) + c.flush(zlib.Z_FULL_FLUSH)
end = zlib.compressobj(1, zlib.DEFLATED, -15).flush(zlib.Z_FINISH)
crc = 0
for _ in range(count):
    crc = zlib.crc32(mib, crc)
with open(sys.argv[1], "wb") as f:
    f.write(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03")
    for _ in range(count):
        f.write(block)
    f.write(end + struct.pack("<II", crc, (count << 20) & 0xFFFFFFFF))
PY
# What a gunzip that stops at the bound needs: the 1 GiB buffer and the tool.
limit_kb=$(((1024 + 256) * 1024))
refused "$WORK/bomb.pb.gz" "$limit_kb"
grep -q 'more than 1024 MiB once gunzipped' "$WORK/err" || fail "the bomb is not refused for its size: $(cat "$WORK/err")"
if [ ${#timer[@]} -gt 0 ]; then
    rss=$(tail -n1 "$WORK/rss")
    [ "$rss" -le "$limit_kb" ] || fail "the bomb took $rss KiB of memory, more than $limit_kb"
    note "gzip bomb ($(stat -c %s "$WORK/bomb.pb.gz") bytes, 1100 MiB inflated) refused at the 1 GiB bound; peak RSS $((rss / 1024)) MiB"
else
    note "gzip bomb refused under a ${limit_kb} KiB address-space limit (/usr/bin/time absent: no RSS figure)"
fi
# An unpack bomb: 4 Mi empty samples, 2 bytes each on the wire (8 MiB of
# protobuf, 8 KB gzipped) but ~80 in memory once unpacked: refused by the
# reader's unpack budget (16 bytes a byte, plus 64 MiB), not by the kernel.
python3 -c 'import gzip, sys; open(sys.argv[1], "wb").write(gzip.compress(b"\x12\x00" * (4 << 20), 9, mtime=0))' \
    "$WORK/unpack-bomb.pb.gz" || fail "could not write the unpack bomb"
refused "$WORK/unpack-bomb.pb.gz" "$limit_kb"
grep -q 'would unpack into more than 192 MiB' "$WORK/err" || fail "the unpack bomb is not refused for its size: $(cat "$WORK/err")"
echo "ok: every hostile file refused in one line, stress files read, the bomb bounded"
