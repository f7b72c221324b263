#!/usr/bin/env bash
# demo.sh — shows libconan's main job on bundled workloads, run unmodified under
# the shim: a program calm for 3 s that then burns CPU (the CPU rule trips on
# the spike), and a program whose heap creeps up by 64 MiB (the heap rule
# trips). The dumps are then read with conan, the tool built beside the
# library: `conan ls` lists them with what tripped, `conan top` shows each
# profile's hottest functions, and `conan flame` writes a flame graph page
# whose path is printed last. (`go tool pprof` reads the same files.)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh

dumps=/tmp/conan-demo
conan=build/cli/conan
rm -rf "$dumps"
config=$(mktemp /tmp/conan-demo.XXXXXX.json)
heap_config=$(mktemp /tmp/conan-demo.XXXXXX.json)
trap 'rm -f "$config" "$heap_config"' EXIT
cat > "$config" <<JSON
{ "app": "demo", "interval_ms": 250, "dump_dir": "$dumps",
  "cpu": { "min": 10, "diff": 25, "window": 8, "cooldown_s": 60, "profile_seconds": 2 } }
JSON
cat > "$heap_config" <<JSON
{ "app": "demo", "interval_ms": 250, "dump_dir": "$dumps", "cpu": { "enable": false },
  "heap": { "min": 0, "abs": 48, "window": 0 } }
JSON

echo "== running: LD_PRELOAD=build/libconan.so CONAN_CONFIG=$config build/tests/spike 3000 4000 1 0"
LD_PRELOAD=build/libconan.so CONAN_CONFIG="$config" build/tests/spike 3000 4000 1 0
echo
echo "== running: LD_PRELOAD=build/libconan.so CONAN_CONFIG=$heap_config build/tests/heap_leak 64 $dumps"
LD_PRELOAD=build/libconan.so CONAN_CONFIG="$heap_config" build/tests/heap_leak 64 "$dumps"

echo
echo "== $conan ls $dumps"
"$conan" ls "$dumps"
profile=$(ls "$dumps"/demo.*.cpu.*.pb.gz | head -1)
heap_profile=$(ls "$dumps"/demo.*.heap.*.pb.gz | head -1)
echo
echo "== $conan top -n 10 $profile"
"$conan" top -n 10 "$profile"
echo
echo "== $conan top -n 10 --sample-index inuse_space $heap_profile"
"$conan" top -n 10 --sample-index inuse_space "$heap_profile"
echo
html="$dumps/demo-cpu-flame.html"
"$conan" flame -o "$html" "$profile" >/dev/null
echo "== flame graph of the CPU profile (open it in a browser): $html"
