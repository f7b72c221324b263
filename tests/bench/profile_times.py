#!/usr/bin/env python3
"""profile_times.py — prints "TIME_NANOS DURATION_NANOS" of a gzipped pprof
profile: fields 9 and 10 of the Profile message (src/profile.proto), read
from the wire format directly, since go tool pprof prints them only as text.
usage: profile_times.py FILE.pb.gz"""
import gzip
import sys


def varint(buf, pos):
    value = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos


def top_level_varints(buf):
    """The varint fields of the outer message, by field number (last wins)."""
    fields, pos = {}, 0
    while pos < len(buf):
        key, pos = varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            fields[number], pos = varint(buf, pos)
        elif wire == 1:
            pos += 8
        elif wire == 2:
            length, pos = varint(buf, pos)
            pos += length
        elif wire == 5:
            pos += 4
        else:
            raise ValueError(f"wire type {wire} at byte {pos}")
    return fields


def main():
    with gzip.open(sys.argv[1], "rb") as f:
        fields = top_level_varints(f.read())
    print(fields.get(9, 0), fields.get(10, 0))


if __name__ == "__main__":
    main()
