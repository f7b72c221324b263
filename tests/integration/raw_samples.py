#!/usr/bin/python3
"""raw_samples.py — the samples of a profile as go tool pprof -raw prints them
(a real reader, not our decoder), one JSON object per line: values, the
function names of the stack (leaf first, inlined frames included) and the
labels. usage: go tool pprof -raw FILE | raw_samples.py"""
import json
import re
import sys

samples, locations = [], {}
section = None
for line in sys.stdin:
    line = line.rstrip("\n")
    if line.startswith("Samples:"):
        section = "samples"
        continue
    if line.startswith("Locations"):
        section = "locations"
        continue
    if line.startswith("Mappings"):
        section = None
        continue
    if section == "samples":
        m = re.match(r"^\s*([-\d\s]+):((?:\s*\d+)*)\s*$", line)
        if m:
            samples.append({"values": [int(v) for v in m.group(1).split()],
                            "locations": [int(v) for v in m.group(2).split()], "labels": {}})
        elif samples and re.match(r"^\s+\S+:\[", line):
            for key, value in re.findall(r"(\S+?):\[([^\]]*)\]", line):
                samples[-1]["labels"][key] = value
    elif section == "locations":
        m = re.match(r"^\s*(\d+): 0x[0-9a-f]+ (?:M=\d+ )?(.*?) :\d+ s=", line)
        if m:
            current = int(m.group(1))
            locations[current] = [m.group(2)]
            continue
        m = re.match(r"^\s+(\S.*?) :\d+ s=", line)
        if m and locations:
            locations[current].append(m.group(1))
for s in samples:
    s["functions"] = [f for loc in s.pop("locations") for f in locations.get(loc, ["?"])]
    print(json.dumps(s))
