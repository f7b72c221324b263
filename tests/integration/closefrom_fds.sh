#!/usr/bin/env bash
# A program that closes descriptors it did not open (closefrom, as daemons do)
# and reuses the numbers for its own files: nothing of the shim — the signal
# handler's unwinder or the monitor — reads, writes or closes them, while
# windows keep sampling before and after.
. "$(dirname "$0")/lib.sh"
write_config "$WORK/c.json" '{ "interval_ms": 100, "dump_dir": "@DUMPS@",
  "cpu": { "min": 0, "abs": '"$BUSY_ABS"', "window": 0, "cooldown_s": 1, "profile_seconds": 1 } }'
out=$(under_shim "$WORK/c.json" "$WORKLOADS/closefrom_logs" "$WORK") || fail "workload failed: $out"
[ "$out" = "failed writes 0, lines 30 30 30" ] || fail "the program's files were disturbed: $out"
[ "$(count_dumps cpu)" -ge 2 ] || fail "want windows before and after closefrom, got $(count_dumps cpu) dumps"
grep -q '"error"' "$DUMPS/events.jsonl" && fail "a window failed: $(grep '"error"' "$DUMPS/events.jsonl")"
note "$out; $(count_dumps cpu) profiles"
exit 0
