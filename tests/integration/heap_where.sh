#!/usr/bin/env bash
# A heap profile says where the memory is. heap_where fills 64 MiB of its heap
# with 1-KiB blocks, keeps every 16th and frees the rest (60 MiB free between
# kept blocks, which glibc cannot give back), maps 32 MiB of shared memory
# and touches it, then asks for a heap profile. Its comments, read with
# `go tool pprof -comments`, must show: the resident set as the sum of
# anonymous, file and shmem, with shmem at least the 32 MiB mapped; the
# allocator's view, and only that allocator's line — glibc's free in arenas at
# least the 60 MiB freed, or, argument "jemalloc" (preloaded behind the shim),
# jemalloc's resident at least its allocated; and the resident set the
# profile does not show, as terms that add up, less the same in-use estimate
# pprof totals. Under a sanitizer its allocator is behind the shim: there are
# no statistics, and the comments must say so. No timing is asserted.
. "$(dirname "$0")/lib.sh"
require_go
allocator=${1:-glibc}
allocator_behind "$allocator"
preload="$LIBCONAN${BEHIND:+ $BEHIND}"
[ -n "$SANITIZED" ] && allocator=$SANITIZED
# Every rule off: the on-demand request is the only profile.
write_config "$WORK/c.json" '{ "interval_ms": 100, "dump_dir": "@DUMPS@",
  "cpu": { "enable": false }, "memory": { "enable": false }, "heap": { "enable": false },
  "threads": { "enable": false } }'
out=$(LD_PRELOAD="$preload" CONAN_CONFIG="$WORK/c.json" "$WORKLOADS/heap_where" "$DUMPS" 64 32) \
    || fail "workload failed: $out"
[ "$(count_dumps heap)" -eq 1 ] || { cat "$DUMPS/events.jsonl" >&2; fail "want 1 heap profile, got $(count_dumps heap)"; }
file="$DUMPS/$(dumps_of_kind heap)"
pprof -comments "$file" >"$WORK/comments" || fail "pprof -comments failed: $(cat "$WORK/pprof.err")"
grep -E '^(heap in use|resident|allocator)' "$WORK/comments" | sed 's/^/# /'
# The profile's inuse_space total, as pprof adds it up: "... of <n>B total".
total=$(pprof -top -sample_index=inuse_space -unit=B "$file" | sed -n 's/.* of \([0-9.]*\)B total.*/\1/p')
python3 - "$WORK/comments" "$allocator" "${total:-0}" "$out" <<'PY' || fail "the comments do not say where the memory is"
import re, sys
comments, allocator, pprof_total = open(sys.argv[1]).read(), sys.argv[2], float(sys.argv[3]) / 2**20
workload = dict(line.split() for line in sys.argv[4].splitlines())
freed, shmem_mapped = int(workload["freed"]) / 2**20, int(workload["shmem"]) / 2**20
bad = []
def check(ok, what):
    if not ok: bad.append(what)
def line(prefix):
    found = [l for l in comments.splitlines() if l.startswith(prefix)]
    return found[0] if found else None
def mib(text, label):
    m = re.search(re.escape(label) + r" (-?[0-9.]+)", text or "")
    return float(m.group(1)) if m else None

res = line("resident: ")
check(res and " = anonymous " in res, "no resident line split into anonymous, file and shmem")
resident, anon, filem, shmem = (mib(res, l) for l in ("resident:", "anonymous", "file", "shmem"))
if None not in (resident, anon, filem, shmem):
    # /proc/self/status: VmRSS is the sum of the three; each is rounded to 0.1
    check(abs(anon + filem + shmem - resident) <= max(0.3, 0.02 * resident),
          "anonymous %.1f + file %.1f + shmem %.1f is not resident %.1f" % (anon, filem, shmem, resident))
    check(shmem >= shmem_mapped - 0.05, "shmem %.1f MiB, the workload mapped and touched %.1f" % (shmem, shmem_mapped))

glibc, jemalloc = line("allocator glibc (mallinfo2): "), line("allocator jemalloc: ")
if allocator == "glibc":
    check(glibc and not jemalloc, "want the glibc line alone")
    free, in_use, arenas, mmapped = (mib(glibc, l) for l in ("free in arenas", "in use", ", arenas", "mmapped"))
    check(free is not None and free >= freed, "free in arenas %s MiB, the workload freed %.1f between kept blocks" % (free, freed))
    if None not in (free, in_use, arenas, mmapped):  # arena = in use inside the arenas + free
        check(abs(in_use - mmapped + free - arenas) <= 0.3, "in use - mmapped + free is not the arenas: " + glibc)
elif allocator == "jemalloc":
    check(jemalloc and not glibc, "want the jemalloc line alone")
    allocated, active, jresident = (mib(jemalloc, l) for l in ("allocated", "active", "resident"))
    check(None not in (allocated, active, jresident) and jresident >= allocated and active >= allocated,
          "jemalloc's resident and active are not at least its allocated: %s" % jemalloc)
else:  # a sanitizer's allocator
    none = line("allocator ")
    check(not glibc and not jemalloc and none and ("lib%s" % allocator) in none and "no statistics" in none,
          "want the sanitizer's allocator named, without statistics: %s" % none)

rest = line("resident not in the heap profile: ")
check(rest is not None, "no line for the resident set not in the profile")
m = re.match(r"resident not in the heap profile: (-?[0-9.]+) MiB \(resident (-?[0-9.]+) less the profile's "
             r"in-use estimate (-?[0-9.]+)\) = (.*?) MiB( \(.*\))?$", rest or "")
check(m is not None, "cannot read: %s" % rest)
if m:
    not_shown, resident2, estimate = (float(m.group(i)) for i in (1, 2, 3))
    terms = [float(t) for t in re.findall(r" (-?[0-9]+\.[0-9])(?= \+|$)", " " + m.group(4))]
    check(len(terms) == (5 if allocator in ("glibc", "jemalloc") else 3), "terms: %s" % m.group(4))
    check(abs(sum(terms) - not_shown) <= 0.05 * len(terms) + 0.05, "the terms %s do not add up to %.1f" % (terms, not_shown))
    check(abs(resident2 - estimate - not_shown) <= 0.15, "resident %.1f less %.1f is not %.1f" % (resident2, estimate, not_shown))
    check(resident is None or abs(resident2 - resident) <= 0.05, "two residents: %.1f and %s" % (resident2, resident))
    # the estimate is the profile's inuse_space total (rows are rounded to the byte)
    check(abs(estimate - pprof_total) <= 0.1, "estimate %.1f MiB, pprof's inuse_space total %.2f" % (estimate, pprof_total))
for b in bad: print("FAIL: " + b, file=sys.stderr)
sys.exit(1 if bad else 0)
PY
[ -z "$SANITIZED" ] || note "under $SANITIZED: its allocator is behind the shim, which reads statistics of glibc and jemalloc only"
exit 0
