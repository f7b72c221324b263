#!/bin/sh
# bundle-libconan.sh DEST [LIBCONAN] — copies libconan.so.0 and the libraries
# it needs beyond glibc (libunwind, protobuf-c, cJSON, zlib, and theirs) into
# DEST, each with RUNPATH $ORIGIN, so that LD_PRELOAD=DEST/libconan.so.0 works
# in a container whose image has none of them: the init container of
# app-with-conan.yaml copies DEST into the app's pod. Needs patchelf. The app's
# glibc must be at least as new as the one libconan was built against.
set -eu
dest=${1:?usage: bundle-libconan.sh DEST [LIBCONAN]}
lib=${2:-$(/sbin/ldconfig -p | awk '$1 == "libconan.so.0" { print $NF; exit }')}
[ -n "$lib" ] && [ -e "$lib" ] || { echo "bundle-libconan.sh: libconan.so.0 not found (pass its path)" >&2; exit 1; }
command -v patchelf >/dev/null || { echo "bundle-libconan.sh: patchelf is needed" >&2; exit 1; }
mkdir -p "$dest"
cp -L "$lib" "$dest/libconan.so.0"
# ldd lists every library of the closure; glibc's own stay the app's.
deps=$(ldd "$lib") || { echo "bundle-libconan.sh: ldd $lib failed" >&2; exit 1; }
if printf '%s\n' "$deps" | grep -q "not found"; then
    echo "bundle-libconan.sh: $lib needs libraries this machine lacks: $(printf '%s\n' "$deps" | grep "not found" | tr -s ' \t\n' ' ')" >&2
    exit 1
fi
printf '%s\n' "$deps" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }' | while read -r dep; do
    case "$(basename "$dep")" in
        libc.so.*|libm.so.*|libpthread.so.*|libdl.so.*|librt.so.*|ld-linux*|libgcc_s.so.*) continue ;;
    esac
    cp -L "$dep" "$dest/$(basename "$dep")"
done
for f in "$dest"/*.so*; do
    chmod 0644 "$f"
    patchelf --set-rpath '$ORIGIN' "$f"
done
