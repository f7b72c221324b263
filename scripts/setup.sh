#!/usr/bin/env bash
# setup.sh — installs every Debian package libconan needs to build, test and run
# its demo, and the peers scripts/bench.sh compares it with. Idempotent:
# installs only what is missing. Needs root (or sudo).
set -euo pipefail

packages=(
    build-essential g++ pkg-config meson ninja-build   # toolchain and build
    libunwind-dev zlib1g-dev libcjson-dev                # engine dependencies
    libprotobuf-c-dev protobuf-c-compiler                # profile.proto encoding
    libdw-dev libelf-dev                                 # conan symbolize: elfutils reads binaries and debug files
    golang-go                                            # `go tool pprof`, the reader tests use
    binutils                                             # what pprof symbolizes with
    libjemalloc2                                         # tests: jemalloc behind the shim
    libasan8 libubsan1 libtsan2                          # tests: the heap engine under sanitizers
    clang-14 libclang-rt-14-dev                          # tests: the config fuzzer (libFuzzer)
    redis-server redis-tools python3                     # tests: real programs under the shim
    nginx wrk curl                                       # tests: the conan tool on nginx's dumps, under load
    memcached                                            # tests: a stripped Debian binary for conan symbolize
    google-perftools libgoogle-perftools4                # bench: tcmalloc, gperftools' heap and CPU profilers
    libjemalloc-dev heaptrack                            # bench: jeprof (jemalloc's profiler), heaptrack
    patchelf python3-yaml systemd groff-base             # tests: the deploy/ recipes, the man pages
    debhelper dpkg-dev fakeroot lintian debootstrap      # package: scripts/package.sh, tests/integration/package.sh
    chromium chromium-driver python3-selenium            # tests: conan flame's page in a headless browser
    time hyperfine                                       # tests, bench: peak RSS (/usr/bin/time), conan vs pprof timings
    libcurl4-openssl-dev libmicrohttpd-dev libssl-dev    # conan agent: HTTP(S) client, pull endpoint, HMAC
    python3-protobuf protobuf-compiler                   # tests: the Pyroscope receiver decodes with Google's protobuf
    postgresql                                           # tests: forked backends share one spawned agent
)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "setup: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
