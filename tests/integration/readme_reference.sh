#!/usr/bin/env bash
# The README's config reference is exactly what the config table generates, so
# documentation and parser cannot drift apart.
. "$(dirname "$0")/lib.sh"
: "${SOURCE_ROOT:?}"
awk '/<!-- config-reference:end -->/ { on = 0 } on { print } /<!-- config-reference:begin -->/ { on = 1 }' \
    "$SOURCE_ROOT/README.md" > "$WORK/readme"
"$CONFIG_REFERENCE" > "$WORK/generated"
[ -s "$WORK/readme" ] || fail "README.md has no config-reference block"
diff -u "$WORK/generated" "$WORK/readme" >&2 || fail "README's reference is stale: run scripts/update-readme-reference.sh"
exit 0
