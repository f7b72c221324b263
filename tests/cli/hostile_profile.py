#!/usr/bin/env python3
"""hostile_profile.py OUT.pb.gz — writes a small CPU profile (profile.proto,
gzipped, encoded here by hand: no protobuf library needed) whose function and
label names try to break out of an HTML page: "</script>", "<!--<script>",
quotes, < > &, a newline, U+2028, invalid UTF-8, a ';'. Every stack is
main;work;<hostile name>, each name with its own value (1..N ms), plus
main;work;main;work (10 ms: recursion, which a search must count once) and
main;work;tiny_pruned_frame (1 ns: under the share the page draws, merged into
work), and every sample carries the string label thread=<a hostile thread
name>. Prints the names of the frames the page draws, one JSON string per line,
as a browser shows them (invalid UTF-8 as U+FFFD), for the test to compare."""
import gzip
import json
import sys

HOSTILE = [
    b'</script><script>window.pwned=1;document.title="pwned"</script>',
    b'<!--<script>',
    b'<img src=x onerror="window.pwned=2">&amp;&lt;',
    b'"double" \'single\' back\\slash',
    b'operator<(std::pair<int, int> const&, std::pair<int, int> const&)',
    b'bad\xff\xfeutf8\xc0\xafend',
    b'line\nbreak\xe2\x80\xa8sep',
    b'semi;colon',
    b'</SCRIPT >',
]
THREAD = b'</script><b>thread'
TINY = b"tiny_pruned_frame"


def varint(n):
    out = bytearray()
    n &= (1 << 64) - 1
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field(num, value):
    """A varint (int) or length-delimited (bytes) field."""
    if isinstance(value, int):
        return varint(num << 3) + varint(value)
    return varint(num << 3 | 2) + varint(len(value)) + value


def main():
    strings = [b"", b"cpu", b"nanoseconds", b"main", b"work", b"thread", THREAD, TINY] + HOSTILE
    index = {s: i for i, s in enumerate(strings)}
    functions = [b"main", b"work"] + HOSTILE + [TINY]  # function id = location id = position + 1
    msg = field(1, field(1, index[b"cpu"]) + field(2, index[b"nanoseconds"]))
    label = field(1, index[b"thread"]) + field(2, index[THREAD])
    stacks = [((3 + k, 2, 1), (k + 1) * 1000000) for k in range(len(HOSTILE))]  # main, work: locations 1, 2
    tiny = len(functions)
    for leaf_first, value in stacks + [((2, 1, 2, 1), 10000000), ((tiny, 2, 1), 1)]:
        ids = b"".join(varint(i) for i in leaf_first)
        msg += field(2, field(1, ids) + field(2, varint(value)) + field(3, label))
    for i, name in enumerate(functions, 1):
        msg += field(4, field(1, i) + field(4, field(1, i)))
        msg += field(5, field(1, i) + field(2, index[name]))
    for s in strings:
        msg += field(6, s)
    msg += field(11, field(1, index[b"cpu"]) + field(2, index[b"nanoseconds"])) + field(12, 10000000)
    with open(sys.argv[1], "wb") as f:
        f.write(gzip.compress(msg))
    for name in [b"main", b"work"] + HOSTILE:
        print(json.dumps(name.decode("utf-8", errors="replace")))


main()
