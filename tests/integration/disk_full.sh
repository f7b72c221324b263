#!/usr/bin/env bash
# dump_dir on a full filesystem (a 256 KiB tmpfs, filled): each trigger costs
# one line on stderr naming the file and the error, events.jsonl's failure is
# said once, no partial or temporary file is left, and the program's output
# and exit status are unchanged. Then space comes back and the next trigger
# writes its profile.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip "needs root to mount a small tmpfs"
mnt="$WORK/small"
mkdir -p "$mnt"
mount -t tmpfs -o size=256k,mode=0700 tmpfs "$mnt" 2>"$WORK/mount.err" || skip "cannot mount a tmpfs: $(cat "$WORK/mount.err")"
at_exit 'umount "$mnt" 2>/dev/null'
mkdir -m 0700 "$mnt/dumps"
dd if=/dev/zero of="$mnt/filler" bs=4k 2>/dev/null || true   # until ENOSPC
write_config "$WORK/c.json" '{ "interval_ms": 100, "dump_dir": "'"$mnt"'/dumps",
  "cpu": { "min": 0, "abs": '"$BUSY_ABS"', "window": 0, "cooldown_s": 1, "profile_seconds": 1 } }'

run_beside "$WORK/c.json" "$WORKLOADS/spike" 0 3500 1 0 3
# one line per profile: each trigger's CPU window writes a cpu and a wall profile
profile_lines=$(grep -c "^libconan: $mnt/dumps/.*\.cpu\..*: cannot write profile: No space left on device\$" "$WORK/shim.err")
wall_lines=$(grep -c "^libconan: $mnt/dumps/.*\.wall\..*: cannot write profile: No space left on device\$" "$WORK/shim.err")
# (the last window's wall profile may be cut short by the exit's 200-ms bound)
[ "$wall_lines" -le "$profile_lines" ] && [ "$wall_lines" -ge $((profile_lines - 1)) ] \
    || fail "$profile_lines cpu profile lines but $wall_lines wall profile lines"
event_lines=$(grep -c "cannot append event: No space left on device" "$WORK/shim.err")
other_lines=$(grep '^libconan: ' "$WORK/shim.err" | grep -v "cannot write profile\|cannot append event" || true)
note "full disk: $profile_lines profile lines, $event_lines event lines"
[ -z "$other_lines" ] || fail "unexpected lines: $other_lines"
[ "$profile_lines" -ge 2 ] && [ "$profile_lines" -le 5 ] || fail "want one line per trigger (2-5 over 3.5 s, cooldown 1 s), got $profile_lines"
[ "$event_lines" -le 1 ] || fail "events.jsonl's failure logged $event_lines times"
left=$(ls -A "$mnt/dumps" | grep -v '^events.jsonl$' || true)
[ -z "$left" ] || fail "files left in the full directory: $left"

rm -f "$mnt/filler"
under_shim "$WORK/c.json" "$WORKLOADS/spike" 0 1500 1 0 3 >/dev/null 2>"$WORK/again.err"
! grep -q '^libconan: ' "$WORK/again.err" || fail "with space back: $(cat "$WORK/again.err")"
ls "$mnt/dumps" | grep -q '\.cpu\..*\.pb\.gz$' || fail "with space back, no profile was written"
exit 0
