#!/usr/bin/env bash
# fork while the parent's CPU profile is being sampled: two threads of the
# parent burn in parent_burn with back-to-back CPU windows while the main
# thread forks children that burn in child_burn. Every child exits normally
# with its own status; each gets a profile of its own showing child_burn and
# full stacks and none of the parent's samples; the parent's profiles show
# parent_burn only.
. "$(dirname "$0")/lib.sh"
skip_forking_children_if_sanitized
require_go
# Each child burns 2.5 s and its windows last 1 s, so its first profile is
# written while it runs. (With 2-s windows and 1.2-s children, a child's
# profile was the one its exit writes, within the 200 ms the exit waits,
# which a loaded machine does not always give: "child wrote no CPU profile".)
write_config "$WORK/c.json" '{ "interval_ms": 100, "dump_dir": "@DUMPS@",
  "cpu": { "min": 0, "abs": 1, "window": 0, "cooldown_s": 0, "profile_seconds": 1 } }'
args=(in_window 4 2500 500)
"$WORKLOADS/forks" "${args[@]}" "$WORK/plain.log" >"$WORK/plain.out" 2>&1 || fail "without the shim: $(cat "$WORK/plain.out")"
under_shim "$WORK/c.json" "$WORKLOADS/forks" "${args[@]}" "$WORK/shim.log" >"$WORK/shim.out" 2>"$WORK/shim.err" \
    || fail "under the shim (status $?): $(cat "$WORK/shim.out" "$WORK/shim.err")"
cmp -s "$WORK/plain.out" "$WORK/shim.out" || fail "stdout changed: $(cat "$WORK/shim.out")"

# How many forks happened while a parent window was open.
landed=$(forks_during cpu "$WORK/shim.log")
note "$landed of 4 forks happened inside a parent CPU window"
[ "$landed" -ge 2 ] || fail "only $landed forks landed in a window: the test did not exercise the case"

kids=$(awk '{ print $1 }' "$WORK/shim.log")
for k in $kids; do
    f=$(dumps_of_kind cpu | grep "^forks\.$k\.cpu\." | head -1)
    [ -n "$f" ] || fail "child $k wrote no CPU profile"
    top=$(pprof -top "$DUMPS/$f")
    echo "$top" | grep -q " child_burn$" || fail "child $k's profile lacks child_burn: $top"
    # Callers are read from the child's own memory (its pid changed at fork).
    echo "$top" | grep -q " main$" || fail "child $k's stacks stop at the leaf: $top"
    ! echo "$top" | grep -q "parent_burn" || fail "child $k's profile holds the parent's samples: $top"
done
parent_files=$(dumps_of_kind cpu | grep -Ev "^forks\.($(echo $kids | tr ' ' '|'))\.")
[ -n "$parent_files" ] || fail "the parent wrote no CPU profile"
for f in $parent_files; do
    top=$(pprof -top "$DUMPS/$f")
    echo "$top" | grep -q " parent_burn$" || fail "parent profile $f lacks parent_burn: $top"
    ! echo "$top" | grep -q "child_burn" || fail "parent profile $f holds a child's samples: $top"
done
exit 0
