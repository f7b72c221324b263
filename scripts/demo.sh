#!/usr/bin/env bash
# demo.sh — shows libconan's main job on bundled workloads, run unmodified under
# the shim: a program calm for 3 s that then burns CPU (the CPU rule trips on
# the spike), and a program whose heap creeps up by 64 MiB (the heap rule trips);
# the profiles they wrote are read with `go tool pprof`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh

dumps=/tmp/conan-demo
rm -rf "$dumps"
config=$(mktemp /tmp/conan-demo.XXXXXX.json)
trap 'rm -f "$config"' EXIT
cat > "$config" <<JSON
{ "app": "demo", "interval_ms": 250, "dump_dir": "$dumps",
  "cpu": { "min": 10, "diff": 25, "window": 8, "cooldown_s": 60, "profile_seconds": 2 } }
JSON

echo "== running: LD_PRELOAD=build/libconan.so CONAN_CONFIG=$config build/tests/spike 3000 4000 1 0"
LD_PRELOAD=build/libconan.so CONAN_CONFIG="$config" build/tests/spike 3000 4000 1 0

echo
echo "== dumps in $dumps"
ls -l "$dumps"
echo
echo "== events.jsonl"
cat "$dumps/events.jsonl"
profile=$(ls "$dumps"/demo.*.cpu.*.pb.gz | head -1)
echo
echo "== go tool pprof -top $profile"
HOME=${HOME:-/tmp} go tool pprof -top "$profile"

heap_config=$(mktemp /tmp/conan-demo.XXXXXX.json)
trap 'rm -f "$config" "$heap_config"' EXIT
cat > "$heap_config" <<JSON
{ "app": "demo", "interval_ms": 250, "dump_dir": "$dumps", "cpu": { "enable": false },
  "heap": { "min": 0, "abs": 48, "window": 0 } }
JSON
echo
echo "== running: LD_PRELOAD=build/libconan.so CONAN_CONFIG=$heap_config build/tests/heap_leak 64 $dumps"
LD_PRELOAD=build/libconan.so CONAN_CONFIG="$heap_config" build/tests/heap_leak 64 "$dumps"
echo
echo "== events.jsonl (heap)"
grep '"kind":"heap"' "$dumps/events.jsonl"
heap_profile=$(ls "$dumps"/demo.*.heap.*.pb.gz | head -1)
echo
echo "== go tool pprof -top -sample_index=inuse_space $heap_profile"
HOME=${HOME:-/tmp} go tool pprof -top -sample_index=inuse_space "$heap_profile"
