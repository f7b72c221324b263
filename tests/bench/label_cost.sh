#!/usr/bin/env bash
# Figure 14: the label calls' cost to a program (include/conan.h): set+clear
# of one label, and push+pop of a scope, in ns per pair on the thread's CPU
# clock, net of the same loop without the calls; medians over ROUNDS rounds
# of 10 million pairs. Active (the default config) and inert (mode "off"),
# where the calls return at once. Target: set+clear ≤ 20 ns active.
DEFAULT_ROUNDS=7
. "$(dirname "$0")/lib.sh"
iterations=10000000
[ "$QUICK" = 1 ] && iterations=1000000
printf '{ "dump_dir": "%s/dumps" }\n' "$WORK" > "$WORK/active.json"
printf '{ "mode": "off" }\n' > "$WORK/inert.json"
for mode in active inert; do
    CONAN_CONFIG="$WORK/$mode.json" "$WORKLOADS/bench_label_cost" "$ROUNDS" "$iterations" > "$WORK/$mode" \
        || die "bench_label_cost failed ($mode)"
done
grep -qx "first_set 0" "$WORK/active" || die "the label calls were not active: $(head -1 "$WORK/active")"
grep -qx "first_set -1" "$WORK/inert" || die "the label calls were not inert with mode off: $(head -1 "$WORK/inert")"
med() { awk -v k="$2" '{ for (i = 1; i < NF; i++) if ($i == k) print $(i + 1) }' "$WORK/$1" | median; }
sc=$(med active set_clear) pp=$(med active push_pop) sci=$(med inert set_clear)
note "set+clear $sc ns, push+pop $pp ns per pair (active); set+clear $sci ns inert (medians of $ROUNDS × $iterations)"
result 14 label_set_clear_ns "$(printf %.1f "$sc")" ns "<=20"
result 14 label_push_pop_ns "$(printf %.1f "$pp")" ns -
result 14 label_set_clear_inert_ns "$(printf %.1f "$sci")" ns -
exit $STATUS
