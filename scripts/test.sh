#!/usr/bin/env bash
# test.sh — the whole suite from a clean clone: installs dependencies, builds,
# runs unit and integration tests (meson test), and ends with one line
# "N passed, N failed[, N skipped]". Skipped tests print their reason.
#
#   scripts/test.sh                 the plain suite, then the AddressSanitizer+
#                                   UBSan pass (docs/TESTING.md, "Sanitizers"); what CI runs
#   scripts/test.sh --sanitize      the sanitized passes only: ASan+UBSan and
#                                   ThreadSanitizer
#   scripts/test.sh [--sanitize] ARGS...   ARGS go to `meson test` (test names,
#                                   --suite, --repeat...)
set -uo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}

suites=(--no-suite tsan)
if [ "${1:-}" = --sanitize ]; then
    shift
    suites=(--suite sanitize)
fi

scripts/setup.sh || { echo "setup failed"; echo "0 passed, 1 failed"; exit 1; }
BUILD_DIR=$build scripts/build.sh || { echo "build failed"; echo "0 passed, 1 failed"; exit 1; }

meson test -C "$build" --print-errorlogs "${suites[@]}" "$@"
status=$?

python3 - "$build/meson-logs/testlog.json" <<'PY'
import json, sys
passed = failed = skipped = 0
for line in open(sys.argv[1]):
    t = json.loads(line)
    r = t.get("result")
    if r == "OK":
        passed += 1
    elif r == "SKIP":
        skipped += 1
        reason = [l for l in (t.get("stdout") or "").splitlines() if l.startswith("SKIP:")]
        print(f"skipped {t['name']}: {reason[0][5:].strip() if reason else 'no reason printed'}")
    else:
        failed += 1
summary = f"{passed} passed, {failed} failed"
if skipped:
    summary += f", {skipped} skipped"
print(summary)
PY
exit $status
