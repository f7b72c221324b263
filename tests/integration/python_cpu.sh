#!/usr/bin/env bash
# An interpreter: Debian's /usr/bin/python3 (stripped, exporting its API)
# running pure-Python CPU work under the shim. Output, stderr and exit status
# are those of the run without it; the CPU rule trips, and the profile, read
# without pprof's own symbolization, shows the interpreter: the eval loop
# _PyEval_EvalFrameDefault among the top five by flat time and under most
# samples, and the stacks walked up to Py_BytesMain.
. "$(dirname "$0")/lib.sh"
require_go
python=/usr/bin/python3   # Debian's, not whatever PATH finds first (pyenv)
[ -x "$python" ] || skip "$python is not installed; scripts/setup.sh installs python3"
script="$(dirname "$0")/../workloads/python_cpu.py"
# 0.1 of a CPU for two ticks: beside another test suite the program may get
# little more than that (0.3 was the level, and not always reached).
cpu_abs=$(cpu_percent 0.1)
# The heap rule is off: this test is about CPU profiles, and its glibc reading
# is timed in wall-clock time, which a loaded machine can stretch into a
# "fragmented heap" line on stderr.
write_config "$WORK/c.json" '{ "interval_ms": 100, "dump_dir": "@DUMPS@", "heap": { "enable": false },
  "cpu": { "min": 0, "abs": '"$cpu_abs"', "window": 0, "sustain": 2, "profile_seconds": 1 } }'

# -I: isolated from PYTHON* variables and the user's site directory.
"$python" -I "$script" 300000 3 >"$WORK/plain.out" 2>"$WORK/plain.err"
plain_status=$?
under_shim "$WORK/c.json" "$python" -I "$script" 300000 3 >"$WORK/shim.out" 2>"$WORK/shim.err"
shim_status=$?
[ "$plain_status" -eq 3 ] || fail "the script exited $plain_status without the shim: $(cat "$WORK/plain.err")"
[ "$shim_status" -eq "$plain_status" ] || fail "exit status $shim_status under the shim, $plain_status without"
same_output "$WORK/plain" "$WORK/shim"

file=$(rule_cpu_dump) || exit 1
event=$(grep -F "\"file\":\"$file\"" "$DUMPS/events.jsonl")
samples=$(json_field "$event" samples)
[ "$samples" -ge 20 ] || fail "only $samples samples"

cum_percent() { # cum_percent FUNCTION — its cum% in $file, 0 if absent
    pprof -top -cum -symbolize=none "$file" | awk -v f="$1" '$6 == f && NF == 6 { sub(/%$/, "", $5); print $5; found = 1; exit } END { if (!found) print 0 }'
}
top=$(pprof -top -symbolize=none "$file" | awk 'found && NF == 6 { print $6 } /flat%/ { found = 1 }' | head -5)
eval_cum=$(cum_percent _PyEval_EvalFrameDefault)
main_cum=$(cum_percent Py_BytesMain)
note "$samples samples; _PyEval_EvalFrameDefault cum ${eval_cum}%, Py_BytesMain cum ${main_cum}%; top 5 flat: $(printf '%s\n' "$top" | paste -sd, -)"
printf '%s\n' "$top" | grep -qx _PyEval_EvalFrameDefault \
    || { pprof -top -symbolize=none "$file" >&2; fail "_PyEval_EvalFrameDefault is not among the top 5 by flat time"; }
awk -v e="$eval_cum" -v m="$main_cum" 'BEGIN { exit !(e >= 80 && m >= 80) }' \
    || { pprof -top -cum -symbolize=none "$file" >&2; fail "stacks do not go through the eval loop up to Py_BytesMain"; }
exit 0
