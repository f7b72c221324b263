#!/usr/bin/env bash
# demo.sh — shows libconan's main job on a bundled workload: a program that is
# calm for 3 s and then burns CPU runs under the shim, unmodified; the CPU rule
# trips on the spike, and the profile it wrote is read with `go tool pprof`.
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
