#!/usr/bin/env bash
# A dump_dir that cannot be created costs one log line per trigger (the rule's
# cooldown paces them), the program's output and exit status are unchanged, and
# the next trigger tries again.
. "$(dirname "$0")/lib.sh"
touch "$WORK/afile"
write_config "$WORK/c.json" '{ "interval_ms": 100, "dump_dir": "'"$WORK"'/afile/dumps",
  "cpu": { "min": 0, "abs": '"$BUSY_ABS"', "window": 0, "cooldown_s": 1, "profile_seconds": 1 } }'
run_beside "$WORK/c.json" "$WORKLOADS/spike" 0 2500 1 0 3
lines=$(grep -c "^libconan: $WORK/afile/dumps: cannot create dump directory: Not a directory\$" "$WORK/shim.err")
others=$(grep '^libconan: ' "$WORK/shim.err" | grep -vc "cannot create dump directory")
note "$lines log lines over 2.5 s with a 1-s cooldown"
[ "$others" -eq 0 ] || fail "unexpected log lines: $(cat "$WORK/shim.err")"
[ "$lines" -ge 2 ] && [ "$lines" -le 3 ] || fail "want one line per trigger (2-3 with cooldown 1 s over 2.5 s), got $lines"
exit 0
