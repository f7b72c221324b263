#!/usr/bin/env python3
"""embed_page.py TEMPLATE OUT.h — turns the flame graph page (cli/flame.html)
into two C byte arrays, flame_page_head and flame_page_tail, the page before
and after its @DATA@ marker (conan flame writes the profile's JSON between
them). The page's Content-Security-Policy gets the SHA-256 of its one <script>
and one <style>, so a browser runs that code and nothing else."""
import base64
import hashlib
import re
import sys


def csp_hash(page, tag):
    bodies = re.findall(r"<%s>(.*?)</%s>" % (tag, tag), page, re.S)
    if len(bodies) != 1:
        sys.exit("embed_page.py: want exactly one plain <%s> in the template, found %d" % (tag, len(bodies)))
    digest = hashlib.sha256(bodies[0].encode("utf-8")).digest()
    return "'sha256-%s'" % base64.b64encode(digest).decode("ascii")


def c_array(name, data):
    data += b"\0"
    rows = (", ".join("0x%02x" % b for b in data[i:i + 16]) for i in range(0, len(data), 16))
    return "static const char %s[] = {\n    %s,\n};\n" % (name, ",\n    ".join(rows))


def main():
    template, out = sys.argv[1], sys.argv[2]
    with open(template, encoding="utf-8") as f:
        page = f.read()
    page = page.replace("@SCRIPT_HASH@", csp_hash(page, "script")).replace("@STYLE_HASH@", csp_hash(page, "style"))
    head, marker, tail = page.partition("@DATA@")
    if not marker or "@DATA@" in tail:
        sys.exit("embed_page.py: want exactly one @DATA@ marker in " + template)
    with open(out, "w", encoding="ascii") as f:
        f.write("/* Generated from cli/flame.html by cli/embed_page.py: do not edit. */\n")
        f.write(c_array("flame_page_head", head.encode("utf-8")))
        f.write(c_array("flame_page_tail", tail.encode("utf-8")))


main()
