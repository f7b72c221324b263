#!/usr/bin/env bash
# Built and installed as a packager would: a release build with link-time
# optimisation (-Werror on, so a new warning at -O3 fails here, not on a
# user's machine), `meson install --destdir`, and what the install must hold:
# libconan.so.0 by soname with its dev symlink, conan.h, conan.pc that
# `pkg-config --cflags --libs conan` turns into a working build of a program
# calling the public API, man pages that groff formats without a warning (and
# whose conan.json(5) names every config key), the examples, and the conan
# tool in bin/ beside them, which starts and reports its version.
. "$(dirname "$0")/lib.sh"
: "${SOURCE_ROOT:?}" "${CONFIG_REFERENCE:?}"
skip_if_sanitized "this builds its own, unsanitized, library"
started=$SECONDS
multiarch=$(gcc -print-multiarch 2>/dev/null)
[ -n "$multiarch" ] || multiarch=$(uname -m)-linux-gnu
meson setup "$WORK/build" "$SOURCE_ROOT" --werror --buildtype=release -Db_lto=true -Dtests=false \
    --prefix=/usr --libdir="lib/$multiarch" >"$WORK/setup.log" 2>&1 || fail "meson setup: $(tail -20 "$WORK/setup.log")"
nice ninja -C "$WORK/build" >"$WORK/build.log" 2>&1 || fail "release build: $(grep -E 'error|warning' "$WORK/build.log" | head -20)"
grep -q "warning:" "$WORK/build.log" && fail "release build warns: $(grep warning: "$WORK/build.log" | head)"
DESTDIR= meson install -C "$WORK/build" --destdir "$WORK/root" >"$WORK/install.log" 2>&1 ||
    fail "meson install: $(tail -20 "$WORK/install.log")"
note "release+LTO build and install: $((SECONDS - started)) s"

root="$WORK/root"
libdir="$root/usr/lib/$multiarch"
[ -f "$libdir/libconan.so.0.1.0" ] || fail "no libconan.so.0.1.0 in $libdir: $(find "$root" -name 'libconan*')"
[ "$(readlink "$libdir/libconan.so.0")" = libconan.so.0.1.0 ] || fail "libconan.so.0 is not a link to libconan.so.0.1.0"
[ "$(readlink "$libdir/libconan.so")" = libconan.so.0 ] || fail "libconan.so is not a link to libconan.so.0"
soname=$(readelf -d "$libdir/libconan.so.0.1.0" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = libconan.so.0 ] || fail "soname is '$soname'"
[ -f "$root/usr/include/conan.h" ] || fail "conan.h is not installed"
[ -x "$root/usr/bin/conan" ] || fail "the conan tool is not installed in /usr/bin"
[ "$("$root/usr/bin/conan" --version)" = "conan 0.1.0" ] || fail "installed conan --version: $("$root/usr/bin/conan" --version 2>&1)"
for f in man/man7/libconan.7 man/man5/conan.json.5 man/man1/conan.1 doc/libconan/examples/conan.json \
         doc/libconan/examples/systemd/conan.conf doc/libconan/examples/kubernetes/app-with-conan.yaml \
         doc/libconan/examples/kubernetes/bundle-libconan.sh doc/libconan/examples/Dockerfile; do
    [ -f "$root/usr/share/$f" ] || fail "/usr/share/$f is not installed"
done
# Nothing of the test suite is installed.
extra=$(cd "$root" && find . -type f | grep -v -E '^\./usr/(lib/'"$multiarch"'/(libconan\.so\.0\.1\.0|pkgconfig/conan\.pc)|include/conan\.h|bin/conan|share/(man|doc/libconan)/)' || true)
[ -z "$extra" ] || fail "unexpected installed files: $extra"

# pkg-config, for a program that links -lconan to call the public API.
export PKG_CONFIG_PATH="$libdir/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$root"
flags=$(pkg-config --cflags --libs conan) || fail "pkg-config --cflags --libs conan failed"
cat > "$WORK/api.c" <<'C'
#include <conan.h>
#include <stdio.h>
#include <string.h>
int main(void)
{
    printf("%s %d\n", conan_version(), strcmp(conan_version(), CONAN_VERSION) == 0);
    return 0;
}
C
cc -o "$WORK/api" "$WORK/api.c" $flags 2>"$WORK/cc.err" || fail "cc \$(pkg-config --cflags --libs conan): $(cat "$WORK/cc.err")"
write_config "$WORK/c.json" '{ "dump_dir": "@DUMPS@" }'
out=$(LD_LIBRARY_PATH="$libdir" CONAN_CONFIG="$WORK/c.json" "$WORK/api") || fail "the program linked with -lconan failed"
[ "$out" = "0.1.0 1" ] || fail "conan_version() said: $out"

# Man pages: no groff warning; conan.json(5) has every key of the table.
for page in "$root/usr/share/man/man7/libconan.7" "$root/usr/share/man/man5/conan.json.5" "$root/usr/share/man/man1/conan.1"; do
    warnings=$(LC_ALL=C groff -man -ww -z "$page" 2>&1)
    [ -z "$warnings" ] || fail "$(basename "$page"): $warnings"
done
"$CONFIG_REFERENCE" | awk -F'`' '/^\| `/ { print $2 }' > "$WORK/keys"
[ "$(wc -l < "$WORK/keys")" -gt 40 ] || fail "the config reference lists only $(wc -l < "$WORK/keys") keys"
while read -r key; do
    grep -qxF ".B ${key//-/\\-}" "$root/usr/share/man/man5/conan.json.5" || fail "conan.json(5) lacks the key $key"
done < "$WORK/keys"
note "installed: $(cd "$root" && find . -type f -o -type l | wc -l) files, $(wc -l < "$WORK/keys") keys in conan.json(5)"
exit 0
