#!/usr/bin/env bash
# Device check: on a machine with a real GPU, run the test suite, `rbd bench speed` and
# `rbd bench kernels --json` on the best hardware (non-software) WebGPU adapter, and put every
# result in one folder, within 8 minutes in all.
#
# usage: bash scripts/device-check.sh [OUT_DIR]      (default runs/device-check-<UTC time>)
#
# It finds the Vulkan loader (libvulkan.so.1) and a Vulkan driver manifest (ICD) itself: from the
# loader's standard folders, and, where a driver ships no manifest (NVIDIA in containers: the
# driver is libGLX_nvidia.so.0 but icd.d is empty), it writes one into OUT_DIR and points the
# loader at it. With no hardware adapter it stops before running anything long, saying what it
# found, with exit code 1.
#
# OUT_DIR gets: environment.txt (GPU, driver, loader, ICDs), info.json (`rbd info --json`),
# test.log, speed.json + speed.log, kernels.json + kernels.log, summary.txt (each step's exit code
# and seconds). Exit code 0 when every step passed, else 1.
#
# DEVICE_CHECK_SYSROOT (tests only) prefixes every system folder searched.
set -uo pipefail
cd "$(dirname "$0")/.."

OUT=${1:-runs/device-check-$(date -u +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
ROOT=${DEVICE_CHECK_SYSROOT:-}
START=$(date +%s)
BUDGET=480 # seconds for the whole check
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp/rbd-xdg-$(id -u)}
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR" 2>/dev/null || true

say() { echo "device-check: $*" | tee -a "$OUT/environment.txt" >&2; }
fail() { echo "device-check: $*" | tee -a "$OUT/summary.txt" >&2; exit 1; }
RBD=(node --import tsx cli/rbd.ts)

[ -d node_modules/webgpu ] || fail "node_modules has no webgpu package: run 'npm ci' first (this script installs nothing)"
: >"$OUT/environment.txt"
: >"$OUT/summary.txt"

LIB_DIRS="/usr/lib/x86_64-linux-gnu /usr/lib/aarch64-linux-gnu /usr/lib64 /usr/lib /usr/local/lib /usr/local/nvidia/lib64 /usr/local/nvidia/lib /lib/x86_64-linux-gnu /lib64"
ICD_DIRS="/etc/vulkan/icd.d /usr/share/vulkan/icd.d /usr/local/share/vulkan/icd.d"

# The first file named $1 in the library folders (ldconfig's cache first, unless a sysroot is set).
find_lib() {
  local name=$1 dir
  if [ -z "$ROOT" ] && command -v ldconfig >/dev/null; then
    local hit
    hit=$(ldconfig -p 2>/dev/null | awk -v n="$name" '$1 == n { print $NF; exit }')
    [ -n "$hit" ] && { echo "$hit"; return 0; }
  fi
  for dir in $LIB_DIRS; do
    [ -e "$ROOT$dir/$name" ] && { echo "$ROOT$dir/$name"; return 0; }
  done
  return 1
}

# --- the GPU and its driver, as the system reports them
if command -v nvidia-smi >/dev/null && [ -z "$ROOT" ]; then
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader >>"$OUT/environment.txt" 2>&1 || true
fi

# --- the Vulkan loader
if loader=$(find_lib libvulkan.so.1); then
  say "Vulkan loader: $loader"
  case ":${LD_LIBRARY_PATH:-}:" in *":$(dirname "$loader"):"*) ;; *) export LD_LIBRARY_PATH="$(dirname "$loader")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" ;; esac
else
  say "Vulkan loader: none found (libvulkan.so.1 in $LIB_DIRS); only non-Vulkan adapters can be used"
fi

# --- Vulkan drivers (ICD manifests)
icds=()
for dir in $ICD_DIRS ${XDG_DATA_DIRS:+$(echo "$XDG_DATA_DIRS" | tr ':' '\n' | sed 's#$#/vulkan/icd.d#')}; do
  for f in "$ROOT$dir"/*.json; do
    [ -e "$f" ] && [[ " ${icds[*]:-} " != *" $f "* ]] && icds+=("$f")
  done
done
say "Vulkan ICD manifests: ${icds[*]:-none}"
nvidia_registered=0
for f in ${icds[@]+"${icds[@]}"}; do grep -qi nvidia "$f" 2>/dev/null && nvidia_registered=1; done
if [ $nvidia_registered -eq 0 ] && [ -z "${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-}" ] && nvidia=$(find_lib libGLX_nvidia.so.0); then
  # The NVIDIA driver is installed but did not register with the Vulkan loader (containers often
  # mount the driver without its manifest): register it here, next to the manifests found.
  cat >"$OUT/nvidia_icd.json" <<EOF
{ "file_format_version": "1.0.0", "ICD": { "library_path": "$nvidia", "api_version": "1.3.0" } }
EOF
  files=$(printf '%s:' "$OUT/nvidia_icd.json" ${icds[@]+"${icds[@]}"})
  export VK_DRIVER_FILES="${files%:}" VK_ICD_FILENAMES="${files%:}"
  say "NVIDIA driver $nvidia has no Vulkan manifest; wrote $OUT/nvidia_icd.json and set VK_DRIVER_FILES to it and the manifests found"
fi

# --- the adapters, and the best hardware one
if ! "${RBD[@]}" info --json >"$OUT/info.json" 2>>"$OUT/environment.txt"; then
  # `rbd info` exits 1 when no adapter matches; the JSON is still written.
  [ -s "$OUT/info.json" ] || fail "'rbd info --json' failed; see $OUT/environment.txt"
fi
ADAPTER=$(node -e '
  const info = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const hw = info.adapters.filter((a) => !a.software);
  hw.sort((a, b) => (a.featureLevel === "core" ? 0 : 1) - (b.featureLevel === "core" ? 0 : 1) || (a.backend === "vulkan" ? 0 : 1) - (b.backend === "vulkan" ? 0 : 1));
  if (hw.length) console.log(hw[0].name);
  else console.error(info.adapters.map((a) => `${a.name} (${a.backend}, ${a.featureLevel}, ${a.software ? "software" : "hardware"})`).join("; ") || "none");
' "$OUT/info.json" 2>"$OUT/adapters.txt")
if [ -z "$ADAPTER" ]; then
  fail "no hardware WebGPU adapter on this machine (adapters found: $(cat "$OUT/adapters.txt")). This check needs a real GPU with a Vulkan (or GL) driver; see $OUT/environment.txt for the loader and drivers searched."
fi
say "adapter: $ADAPTER"
export RBD_ADAPTER=$ADAPTER

# --- the steps, each within what is left of the budget (its own cap first)
status=0
step() { # name cap_seconds log command...
  local name=$1 cap=$2 log=$3; shift 3
  local left=$((BUDGET - ($(date +%s) - START)))
  local limit=$((cap < left ? cap : left))
  if [ "$limit" -le 5 ]; then echo "$name: skipped, the 8-minute budget is spent" >>"$OUT/summary.txt"; status=1; return; fi
  local t0=$(date +%s) rc
  timeout --kill-after=10 "$limit" "$@" >"$log" 2>&1
  rc=$?
  [ $rc -eq 124 ] && echo "(stopped after ${limit}s)" >>"$log"
  echo "$name: exit $rc in $(($(date +%s) - t0))s (limit ${limit}s), log $(basename "$log")" >>"$OUT/summary.txt"
  [ $rc -eq 0 ] || status=1
}
step "npm test" 270 "$OUT/test.log" npm test
step "rbd bench kernels" 90 "$OUT/kernels.log" "${RBD[@]}" bench kernels --json "$OUT/kernels.json"
step "rbd bench speed" 150 "$OUT/speed.log" "${RBD[@]}" bench speed --json "$OUT/speed.json"
tail -n 1 "$OUT/test.log" >>"$OUT/summary.txt"
echo "total $(($(date +%s) - START))s; results in $OUT" >>"$OUT/summary.txt"
cat "$OUT/summary.txt"
exit $status
