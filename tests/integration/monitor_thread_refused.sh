#!/usr/bin/env bash
# The monitor thread cannot be created (RLIMIT_NPROC reached): one line on
# stderr, the shim stays inert (no heap sampling, no files), and the program's
# output and exit status are unchanged. Runs as user nobody, whose process
# count the limit applies to (root is exempt).
. "$(dirname "$0")/lib.sh"
skip_if_sanitized "the sanitizer's reports go to a scratch directory user nobody cannot write"
[ "$(id -u)" = 0 ] || skip "needs root to run as another user under RLIMIT_NPROC"
command -v setpriv >/dev/null && command -v prlimit >/dev/null || skip "setpriv or prlimit missing (util-linux)"
[ "$(ps -u nobody -o pid= | wc -l)" -eq 0 ] || skip "user nobody already has processes, which RLIMIT_NPROC would count"
chmod 0755 "$WORK"
mkdir -m 0777 "$WORK/dumps"
write_config "$WORK/c.json" '{ "interval_ms": 100, "dump_dir": "'"$WORK"'/dumps", "heap": { "sample_bytes": 1 },
  "cpu": { "min": 0, "abs": 1, "window": 0 } }'
chmod 0644 "$WORK/c.json"
as_nobody() { prlimit --nproc=1:1 setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }

as_nobody "$WORKLOADS/heap_entry_points" >"$WORK/plain.out" 2>"$WORK/plain.err"; plain_rc=$?
[ $plain_rc -eq 0 ] || skip "the workload cannot run as nobody under RLIMIT_NPROC=1: $(cat "$WORK/plain.err")"
as_nobody env LD_PRELOAD="$LIBCONAN" CONAN_CONFIG="$WORK/c.json" "$WORKLOADS/heap_entry_points" \
    >"$WORK/shim.out" 2>"$WORK/shim.err"; rc=$?
[ $rc -eq $plain_rc ] || fail "exit status $rc instead of $plain_rc: $(cat "$WORK/shim.err")"
cmp -s "$WORK/plain.out" "$WORK/shim.out" || fail "stdout changed"
want="libconan: cannot create the monitor thread: Resource temporarily unavailable; libconan stays inert"
[ "$(cat "$WORK/shim.err")" = "$(cat "$WORK/plain.err"; echo "$want")" ] || [ "$(cat "$WORK/shim.err")" = "$want" ] \
    || fail "stderr: $(cat "$WORK/shim.err")"
[ -z "$(ls -A "$WORK/dumps")" ] || fail "an inert shim wrote: $(ls -A "$WORK/dumps")"
exit 0
