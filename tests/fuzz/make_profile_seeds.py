#!/usr/bin/env python3
"""make_profile_seeds.py — writes the hostile seeds of tests/fuzz/profile_corpus
encoding profile.proto by hand so no protobuf library is needed: hostile-* are
files the reader must refuse, one per way a file can lie; stress-* are valid but
extreme (INT64 values whose sums overflow, deep stacks, fan-outs that multiply
a small file's cost) and must be read without undefined behaviour or blow-up. tests/cli/hostile.sh feeds the same
files to conan top. Deterministic: rerunning rewrites the same bytes.

usage: make_profile_seeds.py DIR
"""
import gzip
import os
import sys


def varint(n):
    n &= (1 << 64) - 1  # negative int64 → two's complement, as protobuf does
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field_varint(num, value):
    return varint(num << 3) + varint(value)


def field_bytes(num, data):
    return varint(num << 3 | 2) + varint(len(data)) + data


def packed(num, values):
    return field_bytes(num, b"".join(varint(v) for v in values))


def value_type(num, type_i, unit_i):
    return field_bytes(num, field_varint(1, type_i) + field_varint(2, unit_i))


def sample(locs, values, labels=b""):
    return field_bytes(2, packed(1, locs) + packed(2, values) + labels)


def label(key, s=0, num=0, unit=0):
    body = field_varint(1, key)
    if s:
        body += field_varint(2, s)
    if num:
        body += field_varint(3, num)
    if unit:
        body += field_varint(4, unit)
    return field_bytes(3, body)


def mapping(id_, filename):
    return field_bytes(3, field_varint(1, id_) + field_varint(2, 0x400000) + field_varint(3, 0x500000)
                       + field_varint(5, filename))


def location(id_, mapping_id, function_ids):
    body = field_varint(1, id_) + field_varint(2, mapping_id) + field_varint(3, 0x401000 + id_)
    for f in function_ids:
        body += field_bytes(4, field_varint(1, f) + field_varint(2, 10))
    return field_bytes(4, body)


def function(id_, name):
    return field_bytes(5, field_varint(1, id_) + field_varint(2, name) + field_varint(3, name))


def strings(table):
    return b"".join(field_bytes(6, s.encode()) for s in table)


# string indexes of STRINGS
STRINGS = ["", "cpu", "nanoseconds", "samples", "count", "main", "work", "/usr/bin/app", "thread", "worker"]
S = {s: i for i, s in enumerate(STRINGS)}


def good_body(samples=None, extra=b""):
    """A small valid CPU profile: main → work, one mapping; samples given or default."""
    body = value_type(1, S["samples"], S["count"]) + value_type(1, S["cpu"], S["nanoseconds"])
    if samples is None:
        samples = sample([2, 1], [3, 30000000], label(S["thread"], s=S["worker"])) + sample([1], [1, 10000000])
    body += samples
    body += mapping(1, S["/usr/bin/app"])
    body += location(1, 1, [1]) + location(2, 1, [2]) + location(3, 1, [])
    body += function(1, S["main"]) + function(2, S["work"])
    body += strings(STRINGS)
    body += field_varint(9, 1700000000000000000) + field_varint(10, 2000000000)
    body += value_type(11, S["cpu"], S["nanoseconds"]) + field_varint(12, 10000000)
    return body + extra


I64_MAX = (1 << 63) - 1
I64_MIN = -(1 << 63)


def seeds():
    gz = gzip.compress(good_body(), mtime=0)
    yield "valid-small.pb.gz", gz
    yield "valid-small-plain.pb", good_body()
    yield "hostile-truncated-gzip.pb.gz", gz[: len(gz) // 2]
    yield "hostile-gzip-bad-crc.pb.gz", gz[:-8] + bytes(b ^ 0xFF for b in gz[-8:-4]) + gz[-4:]
    yield "hostile-not-gzip.bin", bytes((i * 73 + 41) & 0xFF for i in range(512))
    yield "hostile-not-pprof.txt", b"this is a text file, not a profile\n" * 8
    yield "hostile-empty-gzip.pb.gz", gzip.compress(b"", mtime=0)
    yield "hostile-truncated-plain.pb", good_body()[:-7]
    yield "hostile-string-index.pb", good_body(extra=function(3, 999))
    yield "hostile-string-index-negative.pb", good_body(extra=value_type(1, -5, S["count"]))
    yield "hostile-string-table-not-empty-first.pb", good_body().replace(field_bytes(6, b""), field_bytes(6, b"x"), 1)
    yield "hostile-label-string-index.pb", good_body(
        samples=sample([1], [1, 1], label(S["thread"], s=4096)))
    yield "hostile-period-type-index.pb", good_body(extra=value_type(11, 77, 78))
    # references
    yield "hostile-missing-location.pb", good_body(samples=sample([42], [1, 1]))
    yield "hostile-missing-function.pb", good_body(extra=location(9, 1, [77]))
    yield "hostile-missing-mapping.pb", good_body(extra=location(9, 55, [1]))
    yield "hostile-duplicate-location.pb", good_body(extra=location(1, 1, [2]))
    yield "hostile-duplicate-function.pb", good_body(extra=function(2, S["main"]))
    yield "hostile-duplicate-mapping.pb", good_body(extra=mapping(1, S["main"]))
    yield "hostile-location-id-0.pb", good_body(extra=location(0, 1, [1]))
    yield "hostile-function-id-0.pb", good_body(extra=field_bytes(5, field_varint(2, S["main"])))
    yield "hostile-mapping-id-0.pb", good_body(extra=field_bytes(3, field_varint(5, S["main"])))
    # values
    yield "hostile-values-mismatch.pb", good_body(samples=sample([1], [1, 2, 3]))
    yield "hostile-no-values.pb", good_body(samples=sample([1], []))
    yield "hostile-no-sample-types.pb", strings(STRINGS) + sample([], [])
    # huge counts: sums past INT64_MAX (signed overflow if not saturated)
    huge = b"".join(sample([2, 1], [I64_MAX, I64_MAX]) for _ in range(3))
    yield "stress-huge-values.pb", good_body(samples=huge + sample([1], [I64_MIN, I64_MIN]))
    yield "stress-int64-min.pb", good_body(samples=sample([2], [I64_MIN, I64_MIN]) + sample([2], [-1, -1]))
    yield "stress-huge-header.pb", good_body(extra=field_varint(9, I64_MAX) + field_varint(10, I64_MAX)
                                               + field_varint(12, I64_MIN))
    # huge repeated fields (small files; gzip makes the big ones small)
    deep = sample([2, 1] * 2000, [1, 1])
    yield "stress-deep-stack.pb", good_body(samples=deep)
    many = sample([1], [1, 1]) * 4000
    yield "stress-many-samples.pb", good_body(samples=many)
    yield "stress-many-types.pb", good_body(samples=b"", extra=value_type(1, 1, 2) * 3000)
    # a location with many inlined lines, referenced many times: frames multiply
    yield "stress-inline-fanout.pb", good_body(samples=sample([7] * 500, [1, 1]),
                                                extra=location(7, 1, [1, 2] * 500))
    # a long string named by many mappings: per-mapping copies would multiply it
    yield "stress-mapping-fanout.pb.gz", gzip.compress(
        good_body(samples=sample([8], [1, 1]),
                  extra=field_bytes(6, b"/" + b"a" * 200000)
                  + b"".join(mapping(100 + i, len(STRINGS)) for i in range(2000))
                  + location(8, 150, [])), mtime=0)
    # the same fan-out past the reader's frame bound: 20,000 lines referenced
    # 200,000 times are 4e9 frames (16 GB of frame indexes) from a 1 KB file
    yield "hostile-frame-bomb.pb.gz", gzip.compress(
        good_body(samples=sample([7] * 200000, [1, 1]), extra=location(7, 1, [1, 2] * 10000)), 9, mtime=0)
    yield "hostile-wire-type.pb", good_body() + b"\x0f\xff\xff"
    yield "hostile-varint-overlong.pb", good_body() + b"\x60" + b"\xff" * 11
    yield "hostile-length-overflow.pb", good_body() + b"\x12\xff\xff\xff\xff\x0f"


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__.strip().splitlines()[-1])
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for name, data in seeds():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
