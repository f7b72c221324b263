#!/usr/bin/env bash
# In a set-user-ID program (AT_SECURE) the shim stays inert: the environment
# is the caller's, so its config must not make a privileged process start a
# thread or write files. The dynamic loader preloads only set-user-ID
# libraries from its system directories in that mode, so the test installs a
# set-user-ID copy of libconan.so there for the length of the run, and checks
# that it really was loaded.
. "$(dirname "$0")/lib.sh"
skip_if_sanitized "the loader preloads nothing but set-user-ID libraries here, and the sanitizer's runtime is not one"
[ "$(id -u)" = 0 ] || skip "needs root to make set-user-ID files"
libdir=$(dirname "$(ldconfig -p | awk '$1 == "libc.so.6" { print $NF; exit }')")
[ -d "$libdir" ] || skip "cannot find the system library directory"
lib="libconan-setuid-test-$$.so"
cp "$LIBCONAN" "$libdir/$lib" && chmod 4755 "$libdir/$lib" || skip "cannot install $lib in $libdir"
trap 'rm -f "$libdir/$lib"; rm -rf "$WORK"' EXIT
cp "$WORKLOADS/secure_probe" "$WORK/probe"
chown 65534:65534 "$WORK/probe" && chmod 4755 "$WORK/probe" && chmod 0755 "$WORK"
mkdir -m 1777 "$DUMPS"   # sticky: a shim running as nobody could write here
write_config "$WORK/c.json" '{ "interval_ms": 100, "dump_dir": "@DUMPS@", "mode": "continuous",
  "continuous": { "every_s": 1 }, "cpu": { "min": 0, "abs": 1, "window": 0 } }'
chmod 0644 "$WORK/c.json"

# The same library, not set-user-ID: it runs (a thread of its own).
cp "$WORKLOADS/secure_probe" "$WORK/plain_probe"
got=$(LD_PRELOAD="$libdir/$lib" CONAN_CONFIG="$WORK/c.json" "$WORK/plain_probe" 2>&1)
[ "$got" = "secure 0, libconan mapped, 2 threads" ] || fail "the control run: $got"

rm -rf "${DUMPS:?}"/* "$DUMPS"/.[!.]* 2>/dev/null
got=$(LD_PRELOAD="$lib" CONAN_CONFIG="$WORK/c.json" "$WORK/probe" 2>&1)
[ "$got" = "secure 1, libconan mapped, 1 thread" ] || fail "set-user-ID: $got"
[ -z "$(ls -A "$DUMPS")" ] || fail "files written by the set-user-ID run: $(ls -A "$DUMPS")"
exit 0
