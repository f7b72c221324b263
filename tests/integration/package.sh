#!/usr/bin/env bash
# The Debian packages (debian/, scripts/package.sh), installed where nothing
# else is: a clean Debian root of the host's own release.
#  a. scripts/package.sh builds libconan0, libconan-dev and libconan-tools;
#     libconan0's Depends, from shlibs, name libc6, libunwind8, libprotobuf-c1,
#     libcjson1 and zlib1g; libconan-tools' name libconan0 of the same version,
#     libdw1 and libelf1, and its conan runs; lintian reports no error and no
#     warning.
#  b. The manual pages in the .deb format without a groff warning.
#  c. In a debootstrap'ed minbase root (cached in /var/cache/libconan-test,
#     with redis-server and libconan0's dependencies already in it), seen
#     through an overlay in a mount namespace of our own without a network:
#     apt-get installs both .debs offline; ldconfig finds libconan.so.0 in the
#     multiarch directory; redis-server preloaded by the bare name
#     libconan.so.0, in continuous mode, writes profiles and events.jsonl;
#     after DEBUG POPULATE a trigger file brings a heap profile that names
#     debugCommand (read on the host with `go tool pprof`); SHUTDOWN NOSAVE
#     exits 0 with nothing from libconan on stderr.
#  d. A program built with `pkg-config --cflags --libs conan` against the
#     installed libconan-dev calls conan_version() and prints 0.1.0 there.
# The cached root is never written: each run's changes go to the overlay's
# upper layer in $WORK, and the namespace's mounts end with it.
. "$(dirname "$0")/lib.sh"
require_go
[ "$(id -u)" -eq 0 ] || skip "needs root: debootstrap, mounts and chroot"
command -v unshare >/dev/null || skip "unshare (util-linux) is missing"
grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null || skip "the kernel has no overlayfs"
. /etc/os-release
[ "${ID:-}" = debian ] && [ -n "${VERSION_CODENAME:-}" ] \
    || skip "the host is ${PRETTY_NAME:-not Debian}: the .debs are built against the host's libraries, so the clean root is of the host's Debian release"
arch=$(dpkg --print-architecture)
case $arch in amd64 | arm64) ;; *) skip "debian/control builds for amd64 and arm64, not $arch" ;; esac
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
source_root=$(cd "$(dirname "$0")/../.." && pwd)
elapsed() { echo $((SECONDS - $1)); }

# a. Build, shlibs, lintian.
t=$SECONDS
debs="$WORK/debs"
"$source_root/scripts/package.sh" "$debs" >"$WORK/package.out" 2>&1 \
    || { cat "$WORK/package.out" >&2; fail "scripts/package.sh failed"; }
lib_deb=$(ls "$debs"/libconan0_*_"$arch".deb) && dev_deb=$(ls "$debs"/libconan-dev_*_"$arch".deb) \
    || fail "no libconan0 and libconan-dev .debs in $debs: $(ls "$debs")"
note "scripts/package.sh: $(elapsed $t) s ($(basename "$lib_deb"), $(basename "$dev_deb"))"
depends=$(dpkg-deb -f "$lib_deb" Depends)
note "libconan0 Depends: $depends"
for dep in libc6 libunwind8 libprotobuf-c1 libcjson1 zlib1g; do
    [[ ", $depends," =~ ,\ ${dep}[\ ,] ]] || fail "libconan0 does not depend on $dep: $depends"
done
[ "$(dpkg-deb -f "$dev_deb" Depends)" = "libconan0 (= $(dpkg-deb -f "$lib_deb" Version))" ] \
    || fail "libconan-dev's Depends: $(dpkg-deb -f "$dev_deb" Depends)"
tools_deb=$(ls "$debs"/libconan-tools_*_"$arch".deb) || fail "no libconan-tools .deb in $debs: $(ls "$debs")"
tools_depends=$(dpkg-deb -f "$tools_deb" Depends)
note "libconan-tools Depends: $tools_depends"
for dep in "libconan0 (= $(dpkg-deb -f "$lib_deb" Version))" libdw1 libelf1; do
    [[ ", $tools_depends," == *", $dep"[\ ,]* ]] || fail "libconan-tools does not depend on $dep: $tools_depends"
done
dpkg-deb -x "$tools_deb" "$WORK/tools"
[ "$("$WORK/tools/usr/bin/conan" --version)" = "conan $(dpkg-deb -f "$lib_deb" Version | cut -d- -f1)" ] \
    || fail "the packaged conan --version: $("$WORK/tools/usr/bin/conan" --version 2>&1)"
[ -s "$debs/lintian.txt" ] || fail "no lintian report"
! grep -E '^(E|W): ' "$debs/lintian.txt" >&2 || fail "lintian reports errors or warnings"

# b. The manual pages as packaged.
dpkg-deb -x "$lib_deb" "$WORK/extracted"
pages=("$WORK"/extracted/usr/share/man/man7/libconan.7.gz "$WORK"/extracted/usr/share/man/man5/conan.json.5.gz
       "$WORK"/tools/usr/share/man/man1/conan.1.gz)
for page in "${pages[@]}"; do
    [ -f "$page" ] || fail "no $page in the packages"
    zcat "$page" | groff -k -man -ww -z -Tutf8 >"$WORK/groff.err" 2>&1 || fail "groff failed on $(basename "$page")"
    [ ! -s "$WORK/groff.err" ] || fail "groff warns on $(basename "$page"): $(cat "$WORK/groff.err")"
done

# c. The clean root: minbase, redis-server, and what libconan0 depends on, so
# that installing the .debs needs no network. Keyed by the release and that
# list; made once (debootstrap into a temporary name, then renamed, so an
# interrupted run leaves nothing half-made), under a lock for parallel runs.
# shellcheck disable=SC2046 # one package name per word
include=$(printf '%s\n' redis-server redis-tools $(printf '%s\n' "$depends" | tr ',' '\n' | awk '{ print $1 }') | sort -u | paste -sd,)
cache_dir=/var/cache/libconan-test
cached_root="$cache_dir/$VERSION_CODENAME-$arch-$(printf '%s' "$include" | sha256sum | cut -c1-12)"
mkdir -p "$cache_dir"
t=$SECONDS
exec 9>"$cache_dir/.lock"
flock 9
if [ ! -d "$cached_root" ]; then
    command -v debootstrap >/dev/null || skip "debootstrap is missing; scripts/setup.sh installs it"
    rm -rf "$cached_root.new"
    debootstrap --variant=minbase --arch="$arch" --include="$include" \
        "$VERSION_CODENAME" "$cached_root.new" http://deb.debian.org/debian >"$WORK/debootstrap.log" 2>&1 \
        || { tail -5 "$WORK/debootstrap.log"; rm -rf "$cached_root.new"; skip "debootstrap of $VERSION_CODENAME failed (no mirror?)"; }
    rm -f "$cached_root.new"/var/cache/apt/archives/*.deb
    mv "$cached_root.new" "$cached_root"
    note "debootstrap of $VERSION_CODENAME minbase with $include: $(elapsed $t) s, into $cached_root"
else
    note "clean root: $cached_root (cached, $(du -sm "$cached_root" | cut -f1) MB)"
fi
flock -u 9

mkdir -p "$WORK/upper" "$WORK/overlay-work" "$WORK/root"
cp "$lib_deb" "$dev_deb" "$WORK/"
cat >"$WORK/version.c" <<'EOF'
#include <conan.h>
#include <stdio.h>
int main(void) { printf("%s\n", conan_version()); return 0; }
EOF
write_config "$WORK/conan.json" '{ "app": "redis-server", "mode": "continuous", "interval_ms": 200,
  "dump_dir": "/tmp/conan", "continuous": { "every_s": 1 },
  "cpu": { "abs": 0, "window": 0, "profile_seconds": 1 },
  "memory": { "enable": false },
  "heap": { "abs": 0, "window": 0, "sample_bytes": 65536 },
  "limits": { "max_dumps_per_hour": 3600 } }'

# Everything that needs the root runs in a mount namespace of its own (the
# overlay, /proc, /sys and /dev mounts end with it) without a network.
cat >"$WORK/inside.sh" <<'INSIDE'
set -u
fail() { echo "FAIL: $*" >&2; exit 1; }
note() { echo "# $*"; }
wait_for() { local deadline=$((SECONDS + $1)); shift; until "$@"; do [ $SECONDS -ge $deadline ] && return 1; sleep 0.1; done; }
root="$WORK/root"
mount -t overlay overlay -o "lowerdir=$CACHED_ROOT,upperdir=$WORK/upper,workdir=$WORK/overlay-work" "$root" \
    || fail "cannot mount the overlay"
mount -t proc proc "$root/proc" || fail "cannot mount /proc in the root"
mount --rbind /sys "$root/sys" || fail "cannot bind /sys in the root"
mount -t tmpfs -o mode=755 dev "$root/dev" || fail "cannot mount /dev in the root"
for node in null:1:3 zero:1:5 full:1:7 random:1:8 urandom:1:9; do
    IFS=: read -r name major minor <<<"$node"
    mknod -m 666 "$root/dev/$name" c "$major" "$minor"
done
mkdir "$root/dev/pts" && ln -s pts/ptmx "$root/dev/ptmx"
mount -t devpts -o newinstance,ptmxmode=0666 devpts "$root/dev/pts" || fail "cannot mount /dev/pts in the root"
in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"; }

t=$SECONDS
mkdir -p "$root/tmp/debs"
cp "$WORK"/libconan*.deb "$root/tmp/debs/"
chmod -R a+rX "$root/tmp/debs"
in_root sh -c 'cd /tmp/debs && DEBIAN_FRONTEND=noninteractive apt-get install -y ./libconan0_*.deb ./libconan-dev_*.deb' \
    >"$WORK/apt.log" 2>&1 || { cat "$WORK/apt.log" >&2; fail "apt-get install of the .debs failed (offline)"; }
[ "$(in_root dpkg-query -W -f='${Status}\n' libconan0 libconan-dev | sort -u)" = "install ok installed" ] \
    || fail "not installed: $(in_root dpkg-query -W -f='${Package} ${Status}\n' libconan0 libconan-dev)"
note "apt-get install ./libconan0 ./libconan-dev, offline: $((SECONDS - t)) s"
found=$(in_root ldconfig -p | grep -F 'libconan.so.0 ') || fail "ldconfig -p does not list libconan.so.0"
# On a merged-/usr root ldconfig may name it by /lib/...: where it really is counts.
[ "$(in_root readlink -f "${found##*=> }")" = "/usr/lib/$MULTIARCH/libconan.so.0.1.0" ] || fail "ldconfig -p: $found"

# redis-server with libconan preloaded by its bare name.
t=$SECONDS
cp "$WORK/conan.json" "$root/tmp/conan.json"
chroot "$root" /usr/bin/env -i PATH=/usr/bin:/bin LD_PRELOAD=libconan.so.0 CONAN_CONFIG=/tmp/conan.json \
    redis-server --port 0 --unixsocket /tmp/r.sock --daemonize no --save "" --appendonly no --dir /tmp \
    --enable-debug-command local >"$WORK/redis.log" 2>"$WORK/redis.err" &
pid=$!
trap 'kill $pid 2>/dev/null' EXIT
rcli() { timeout 20 chroot "$root" redis-cli -s /tmp/r.sock "$@"; }
answers() { [ "$(rcli PING 2>/dev/null)" = PONG ] || ! kill -0 $pid 2>/dev/null; }
wait_for 15 answers || fail "redis did not answer within 15 s"
kill -0 $pid 2>/dev/null || { cat "$WORK/redis.log" "$WORK/redis.err" >&2; fail "redis exited at start"; }
grep -q "/usr/lib/$MULTIARCH/libconan.so.0.1.0$" "/proc/$pid/maps" || fail "the packaged libconan is not mapped into redis"
dumps="$root/tmp/conan"
first_dump() { ls "$dumps" 2>/dev/null | grep -qE '\.cpu\.[0-9]{8}T[0-9]{6}\.[0-9]+\.pb\.gz$' && [ -s "$dumps/events.jsonl" ]; }
wait_for 20 first_dump || fail "no CPU profile and events.jsonl in /tmp/conan within 20 s: $(ls "$dumps" 2>&1)"
note "redis under libconan.so.0: first continuous profile after $((SECONDS - t)) s"
[ "$(rcli DEBUG POPULATE 100000 key 200)" = OK ] || fail "DEBUG POPULATE failed"
touch "$dumps/conan.trigger.$pid"
manual_heap() { grep '"reason":"manual"' "$dumps/events.jsonl" | grep -q '"kind":"heap"'; }
wait_for 20 manual_heap || { cat "$dumps/events.jsonl" >&2; fail "no heap profile within 20 s of the trigger file"; }
rcli SHUTDOWN NOSAVE >/dev/null 2>&1
wait_for 15 eval '! kill -0 $pid 2>/dev/null' || fail "redis still running 15 s after SHUTDOWN NOSAVE"
wait $pid; status=$?
trap - EXIT
[ $status -eq 0 ] || { tail -5 "$WORK/redis.log" >&2; fail "redis exited with status $status"; }
! grep -q "libconan:" "$WORK/redis.err" || fail "libconan complained: $(cat "$WORK/redis.err")"
note "redis: $((SECONDS - t)) s from start to a clean SHUTDOWN; $(grep -c . "$dumps/events.jsonl") events"

# A program of our own, built on the host against the installed libconan-dev
# (pkg-config through the root as sysroot), run in the root.
flags=$(PKG_CONFIG_SYSROOT_DIR="$root" PKG_CONFIG_LIBDIR="$root/usr/lib/$MULTIARCH/pkgconfig" pkg-config --cflags --libs conan) \
    || fail "pkg-config finds no conan.pc in the root"
note "pkg-config --cflags --libs conan: ${flags//$root/<root>}"
# shellcheck disable=SC2086 # the flags are words
gcc -o "$root/tmp/version" "$WORK/version.c" $flags 2>"$WORK/gcc.err" || fail "cannot build against libconan-dev: $(cat "$WORK/gcc.err")"
readelf -d "$root/tmp/version" | grep -q 'NEEDED.*\[libconan.so.0\]' || fail "the program does not need libconan.so.0"
version=$(in_root /tmp/version) || fail "the program failed in the root"
[ "$version" = 0.1.0 ] || fail "conan_version() says '$version', not 0.1.0"
INSIDE
t=$SECONDS
env WORK="$WORK" CACHED_ROOT="$cached_root" MULTIARCH="$multiarch" \
    unshare --mount --net --propagation private bash "$WORK/inside.sh" || fail "in the clean root (above)"
note "in the clean root: $(elapsed $t) s"

# Read the profiles on the host, where go is: the upper layer holds them.
dumps="$WORK/upper/tmp/conan"
cpu_file=$(ls "$dumps"/*.cpu.*.pb.gz | head -1)
pprof -raw -symbolize=none "$cpu_file" >"$WORK/cpu.raw" || fail "pprof cannot read $cpu_file: $(cat "$WORK/pprof.err")"
grep -q '^PeriodType: cpu nanoseconds' "$WORK/cpu.raw" || fail "not a CPU profile: $(head -5 "$WORK/cpu.raw")"
event=$(grep '"reason":"manual"' "$dumps/events.jsonl" | grep '"kind":"heap"' | head -1)
heap_file="$WORK/upper$(json_field "$event" file)"
pprof -raw -symbolize=none "$heap_file" >"$WORK/heap.raw" || fail "pprof cannot read $heap_file: $(cat "$WORK/pprof.err")"
grep -q 'debugCommand' "$WORK/heap.raw" || fail "redis's debugCommand is not in the heap profile after DEBUG POPULATE"
grep -q '/usr/bin/redis-' "$WORK/heap.raw" || fail "redis's executable is not among the heap profile's mappings"
profiles=("$dumps"/*.pb.gz)
note "profiles: ${#profiles[@]}, read with go tool pprof; the manual heap profile names debugCommand"
exit 0
