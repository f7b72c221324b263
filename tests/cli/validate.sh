#!/usr/bin/env bash
# conan validate: the shim's own check, the shim's own one-line message
# (file and JSON path), exit 0 or 1; --print shows every key of the config
# table with the defaults filled in, and what it prints validates to itself.
. "$SOURCE_ROOT/tests/integration/lib.sh"
: "${CONAN:?CONAN must point at the conan tool}"

# 1. A good file: silent, 0.
write_config "$WORK/good.json" '{ "app": "checkout", "cpu": { "hz": 50 }, "tags": { "region": "eu-1" },
  "stuck": { "ignore": ["my_pool_wait"] } }'
out=$("$CONAN" validate "$WORK/good.json" 2>&1) || fail "good file refused: $out"
[ -z "$out" ] || fail "good file: unexpected output '$out'"

# 2. Bad files: exit 1, and the very line the shim logs for the same file.
mkdir "$WORK/adir"
printf '{ "cpu": { "hz": 100, }' > "$WORK/malformed.json"
printf '{ "cpu": { "hertz": 100 } }' > "$WORK/unknown.json"
printf '{ "cpu": { "hz": "fast" } }' > "$WORK/type.json"
printf '{ "pressure": { "io": { "abs": 300 } } }' > "$WORK/range.json"
cases=(
    "$WORK/missing.json|\$: cannot open: No such file or directory"
    "$WORK/adir|\$: not a regular file"
    "$WORK/malformed.json|\$: malformed JSON at line 1, column 23"
    "$WORK/unknown.json|cpu.hertz: unknown key (valid here: "
    "$WORK/type.json|cpu.hz: must be a number, got a string"
    "$WORK/range.json|pressure.io.abs: 300 is out of range [0, 100]"
)
for c in "${cases[@]}"; do
    file=${c%%|*}; want=${c#*|}
    "$CONAN" validate "$file" >"$WORK/out" 2>"$WORK/err"; rc=$?
    [ $rc -eq 1 ] || fail "$file: status $rc, want 1"
    [ ! -s "$WORK/out" ] || fail "$file: printed on stdout"
    [ "$(wc -l < "$WORK/err")" -eq 1 ] || fail "$file: want one line, got '$(cat "$WORK/err")'"
    line=$(cat "$WORK/err")
    case $line in "conan validate: $file: $want"*) ;; *) fail "$file: message '$line', want '$file: $want'" ;; esac
    shim=$(LD_PRELOAD="$LIBCONAN" CONAN_CONFIG="$file" /bin/true 2>&1)
    [ "libconan: ${line#conan validate: } (libconan stays inert)" = "$shim" ] || fail "$file: '$line' is not the shim's '$shim'"
done

# 3. --print: every key of the table (the reference lists them all), the
# file's values, the defaults; printed again from what it printed: the same.
"$CONAN" validate "$WORK/good.json" --print >"$WORK/printed.json" || fail "--print failed"
"$CONFIG_REFERENCE" | sed -n 's/^| `\([^`]*\)` |.*/\1/p' >"$WORK/keys" ||
    fail "config_reference failed"
[ "$(wc -l < "$WORK/keys")" -gt 50 ] || fail "the reference lists only $(wc -l < "$WORK/keys") keys"
python3 - "$WORK/printed.json" "$WORK/keys" <<'PY' || fail "--print output is not what it should be"
import json, sys
cfg = json.load(open(sys.argv[1]))
missing = []
for key in open(sys.argv[2]).read().split():
    node = cfg
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            missing.append(key); break
        node = node[part]
assert not missing, "keys missing: %s" % missing
assert cfg["app"] == "checkout" and cfg["cpu"]["hz"] == 50 and cfg["tags"] == {"region": "eu-1"}, cfg
assert cfg["stuck"]["ignore"] == ["my_pool_wait"], cfg["stuck"]
assert cfg["dump_dir"] == "/tmp/conan" and cfg["mode"] == "adaptive" and cfg["cpu"]["profile_seconds"] == 5
PY
"$CONAN" validate "$WORK/printed.json" --print >"$WORK/again.json" || fail "the printed config does not validate"
cmp -s "$WORK/printed.json" "$WORK/again.json" || fail "--print of the printed config differs: $(diff "$WORK/printed.json" "$WORK/again.json")"

# 4. Usage.
"$CONAN" validate 2>/dev/null; rc=$?
[ $rc -eq 2 ] || fail "no file: status $rc, want 2"
"$CONAN" validate "$WORK/good.json" --frobnicate 2>/dev/null; rc=$?
[ $rc -eq 2 ] || fail "unknown option: status $rc, want 2"
exit 0
