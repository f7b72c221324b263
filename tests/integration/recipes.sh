#!/usr/bin/env bash
# The deployment recipes in deploy/ (installed under the doc dir) are right as
# far as this machine can tell without systemd running or a cluster:
#  - the systemd drop-in passes `systemd-analyze verify` on a service that uses
#    it, with no warning (a misspelt key would print one);
#  - the Kubernetes example parses, its paths agree with each other (the
#    library the init container copies is where LD_PRELOAD looks, the config
#    is where CONAN_CONFIG looks, dumps go to the dump volume), and its config
#    and deploy/conan.json pass the shim's own validation;
#  - bundle-libconan.sh makes a directory whose libconan.so.0 finds every
#    library it needs beyond glibc in that directory, and works when preloaded;
#  - every file the Dockerfile copies exists beside it.
. "$(dirname "$0")/lib.sh"
: "${SOURCE_ROOT:?}"
skip_if_sanitized "LIBCONAN then names two libraries, and the recipes preload one"
deploy="$SOURCE_ROOT/deploy"
python=/usr/bin/python3

# systemd
if command -v systemd-analyze >/dev/null; then
    mkdir -p "$WORK/units/demo.service.d"
    printf '[Unit]\nDescription=a service libconan is added to\nDefaultDependencies=no\n[Service]\nExecStart=/bin/sleep 1\n' \
        > "$WORK/units/demo.service"
    cp "$deploy/systemd/conan.conf" "$WORK/units/demo.service.d/"
    SYSTEMD_UNIT_PATH="$WORK/units:" systemd-analyze verify "$WORK/units/demo.service" >"$WORK/verify" 2>&1 ||
        fail "systemd-analyze verify failed: $(cat "$WORK/verify")"
    [ ! -s "$WORK/verify" ] || fail "systemd-analyze verify warns: $(cat "$WORK/verify")"
    note "systemd drop-in: verified"
    cp "$deploy/systemd/conan-agent@.service" "$WORK/units/"
    SYSTEMD_UNIT_PATH="$WORK/units:" systemd-analyze verify "$WORK/units/conan-agent@demo.service" >"$WORK/verify" 2>&1
    # The unit names /usr/bin/conan, the installed path; only that may be missing here.
    grep -v -e '/usr/bin/conan' -e 'conan-agent@demo.service: Command' "$WORK/verify" > "$WORK/verify.rest" || true
    [ ! -s "$WORK/verify.rest" ] || fail "systemd-analyze verify conan-agent@.service: $(cat "$WORK/verify.rest")"
    note "systemd agent unit: verified"
else
    note "systemd-analyze is not installed: the drop-in is not verified here"
fi

# Kubernetes
$python - "$deploy/kubernetes/app-with-conan.yaml" "$WORK/k8s-conan.json" <<'PY' || fail "kubernetes example"
import json, os, sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
kinds = {d["kind"]: d for d in docs}
def need(cond, what):
    if not cond:
        sys.exit(f"app-with-conan.yaml: {what}")
need({"ConfigMap", "Deployment"} <= kinds.keys(), "wants a ConfigMap and a Deployment")
config = kinds["ConfigMap"]["data"]["conan.json"]
open(sys.argv[2], "w").write(config)
spec = kinds["Deployment"]["spec"]["template"]["spec"]
volumes = {v["name"]: v for v in spec["volumes"]}
init = spec["initContainers"][0]
app = spec["containers"][0]
env = {e["name"]: e["value"] for e in app["env"]}
mounts = {m["name"]: m["mountPath"] for m in app["volumeMounts"]}
init_mount = {m["name"]: m["mountPath"] for m in init["volumeMounts"]}
lib_volume = [n for n in init_mount if n in mounts]
need(len(lib_volume) == 1, "the init container and the app share no volume")
lib_dir = mounts[lib_volume[0]]
need("emptyDir" in volumes[lib_volume[0]], "the library volume is not an emptyDir")
need(init["command"][-1].rstrip("/") == init_mount[lib_volume[0]].rstrip("/"), "the init container does not copy into its mount")
need(env["LD_PRELOAD"] == lib_dir + "/libconan.so.0", "LD_PRELOAD is not the copied library")
cfg_dir, cfg_file = env["CONAN_CONFIG"].rsplit("/", 1)
cfg_volume = [n for n, p in mounts.items() if p == cfg_dir]
need(cfg_volume and volumes[cfg_volume[0]].get("configMap", {}).get("name") == kinds["ConfigMap"]["metadata"]["name"],
     "CONAN_CONFIG is not in the ConfigMap's volume")
need(cfg_file in kinds["ConfigMap"]["data"], "the ConfigMap has no " + cfg_file)
dump_dir = json.loads(config)["dump_dir"]
dump_mount = [p for p in mounts.values() if dump_dir == p.rstrip("/") or dump_dir.startswith(p.rstrip("/") + "/")]
need(dump_mount, "dump_dir " + dump_dir + " is not inside a volume of the app")
need(dump_mount[0] != lib_dir and dump_mount[0] != cfg_dir, "dump_dir is inside a read-only volume")
open(sys.argv[2] + ".in-volume", "w").write(os.path.relpath(dump_dir, dump_mount[0]))
agent = [c for c in spec["containers"] if "agent" in c.get("command", [])]
need(len(agent) == 1, "wants one conan agent sidecar")
agent_mounts = {m["name"]: m["mountPath"] for m in agent[0]["volumeMounts"]}
dump_volume = [n for n, p in mounts.items() if p == dump_mount[0]][0]
need(agent_mounts.get(dump_volume) == dump_mount[0], "the agent sidecar does not see the dump volume at the app's path")
need(agent[0]["command"][agent[0]["command"].index("--config") + 1] == env["CONAN_CONFIG"] and
     agent_mounts.get(cfg_volume[0]) == cfg_dir, "the agent sidecar does not read the app's config")
need(json.loads(config).get("report", {}).get("spawn") is False, "with a sidecar, the shim must not spawn an agent")
PY
# Both configs are valid, and the Kubernetes one writes dumps where its
# dump_dir is: an emptyDir is a directory writable by everyone (0777, no
# sticky bit), stood in for by one under $WORK; dump_dir is moved under it.
"$WORKLOADS/spike" 0 50 1 10 0 >/dev/null 2>"$WORK/plain.err" || fail "the workload failed"
mkdir -m 0777 "$WORK/emptydir" && chmod 0777 "$WORK/emptydir"
$python - "$WORK/k8s-conan.json" "$WORK/emptydir" "$deploy/conan.json" "$DUMPS" <<'PY' || fail "cannot rewrite the configs"
import json, os, sys
k8s = json.load(open(sys.argv[1]))
k8s["dump_dir"] = os.path.normpath(os.path.join(sys.argv[2], open(sys.argv[1] + ".in-volume").read()))
k8s.update({"mode": "continuous", "interval_ms": 100, "continuous": {"every_s": 1}, "cpu": {"profile_seconds": 1}})
json.dump(k8s, open(sys.argv[1] + ".run", "w"))
example = json.load(open(sys.argv[3]))
example["dump_dir"] = sys.argv[4]
example.pop("only", None)
json.dump(example, open(sys.argv[1] + ".example", "w"))
PY
for cfg in "$WORK/k8s-conan.json.run" "$WORK/k8s-conan.json.example"; do
    LD_PRELOAD="$LIBCONAN" CONAN_CONFIG="$cfg" "$WORKLOADS/spike" 0 50 1 10 0 >/dev/null 2>"$WORK/err" ||
        fail "$cfg: the workload failed under it"
    cmp -s "$WORK/plain.err" "$WORK/err" || fail "$cfg is not a valid config: $(cat "$WORK/err")"
done
LD_PRELOAD="$LIBCONAN" CONAN_CONFIG="$WORK/k8s-conan.json.run" "$WORKLOADS/two_threads" 2 >/dev/null 2>"$WORK/err" ||
    fail "the workload failed under the Kubernetes config"
[ ! -s "$WORK/err" ] || fail "under the Kubernetes config: $(cat "$WORK/err")"
ls "$WORK"/emptydir/*/*.pb.gz >/dev/null 2>&1 || fail "the Kubernetes config wrote no dump into its volume: $(cat "$WORK/err")"
note "kubernetes example and conan.json: consistent and valid; dumps in $(ls -d "$WORK"/emptydir/* | xargs -n1 basename)"

# bundle-libconan.sh
command -v patchelf >/dev/null || skip "patchelf is not installed (scripts/setup.sh installs it)"
"$deploy/kubernetes/bundle-libconan.sh" "$WORK/bundle" "$LIBCONAN" || fail "bundle-libconan.sh failed"
ldd "$WORK/bundle/libconan.so.0" > "$WORK/ldd"
outside=$(awk '$2 == "=>" { print $1, $3 }' "$WORK/ldd" |
    grep -v -E '^(libc|libm|libpthread|libdl|librt|libgcc_s)\.so' | grep -v " $WORK/bundle/" || true)
[ -z "$outside" ] || fail "the bundle's libconan.so.0 still needs libraries from outside it: $outside"
grep -q "not found" "$WORK/ldd" && fail "the bundle is missing libraries: $(cat "$WORK/ldd")"
for f in "$WORK"/bundle/*.so*; do
    readelf -d "$f" | grep -q 'RUNPATH.*\[\$ORIGIN\]' || fail "$(basename "$f") has no RUNPATH \$ORIGIN"
done
write_config "$WORK/c.json" '{ "dump_dir": "@DUMPS@", "mode": "continuous", "interval_ms": 100,
  "continuous": { "every_s": 1 }, "cpu": { "profile_seconds": 1 } }'
LD_PRELOAD="$WORK/bundle/libconan.so.0" CONAN_CONFIG="$WORK/c.json" "$WORKLOADS/two_threads" 2 >/dev/null ||
    fail "the workload failed with the bundled library"
[ "$(count_dumps cpu)" -ge 1 ] || fail "the bundled library wrote no profile"
note "bundle: $(cd "$WORK/bundle" && ls | tr '\n' ' ')"

# Dockerfile: what it copies from its build context is there.
while read -r src; do
    case "$src" in libconan0_*.deb) continue ;; esac
    [ -e "$deploy/$src" ] || fail "the Dockerfile copies $src, which deploy/ does not have"
done < <(awk '$1 == "COPY" && $2 !~ /^--/ { print $2 }' "$deploy/Dockerfile")
exit 0
