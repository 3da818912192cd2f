#!/usr/bin/env bash
# One-command setup for rbd-webgpu on a fresh Debian/Ubuntu machine with Node 20+.
#   1. npm ci (the project's JavaScript dependencies, from package-lock.json)
#   2. if no WebGPU adapter is found: Mesa's software Vulkan driver (lavapipe) new enough for
#      Dawn, plus the EGL/GLES libraries for the OpenGL ES adapter
#   3. verify that an adapter is found and print it
#   4. Debian's chromium (for the browser tests of the web page, test/web/; WebGPU via its
#      SwiftShader adapter), unless RBD_SETUP_CHROMIUM=0
# Idempotent: re-running it changes nothing once everything is in place.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[setup] %s\n' "$*"; }
die() { printf '[setup] error: %s\n' "$*" >&2; exit 1; }

command -v node >/dev/null || die "node is not installed: install Node.js 20 or newer, then re-run scripts/setup.sh"
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 20 ] || die "Node.js $(node --version) is too old: rbd-webgpu needs Node.js 20 or newer"

# --- 1. JavaScript dependencies -----------------------------------------------------------
# Skip npm ci when node_modules already matches the lock file (npm writes this marker).
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "installing npm dependencies (npm ci)"
  npm ci --no-audit --no-fund
else
  log "npm dependencies already installed"
fi

# --- 2. a WebGPU adapter --------------------------------------------------------------------
probe() { node scripts/probe-adapter.mjs "$@" 2>/dev/null; }

export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp/rbd-xdg-$(id -u)}"
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"

# Dawn needs Vulkan 1.1 features that Debian 12's Mesa 22.3 lavapipe lacks
# ("shaderUniform*ArrayDynamicIndexing required"); Mesa 25 from bookworm-backports works.
# The GL adapter needs EGL + GLES from Mesa (libegl-mesa0, libgles2).
install_mesa() {
  [ -r /etc/os-release ] || die "no WebGPU adapter found and this is not a Debian/Ubuntu system: install a Vulkan driver (e.g. Mesa lavapipe >= 23) yourself"
  . /etc/os-release
  command -v apt-get >/dev/null || die "no WebGPU adapter found and apt-get is missing: install Mesa's Vulkan driver (lavapipe >= 23) yourself"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  local suite=""
  if [ "${ID:-}" = debian ] && [ -n "${VERSION_CODENAME:-}" ]; then
    suite="${VERSION_CODENAME}-backports"
    if ! grep -rqs "$suite" /etc/apt/sources.list /etc/apt/sources.list.d/; then
      # Reuse the mirror the machine already uses for Debian (never a hard-coded host).
      local uri
      uri=$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' | grep -v -- '-security' | grep -m1 '/debian' || true)
      [ -n "$uri" ] || uri=$(grep -hs '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list | awk '{print $2}' | grep -v -- '-security' | grep -m1 '/debian' || true)
      [ -n "$uri" ] || die "could not find the machine's Debian mirror in /etc/apt/sources*: add ${suite} by hand"
      log "adding apt suite ${suite} from ${uri}"
      printf 'Types: deb\nURIs: %s\nSuites: %s\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
        "$uri" "$suite" | $sudo tee /etc/apt/sources.list.d/rbd-backports.sources >/dev/null
    fi
  fi
  log "apt-get update"
  $sudo apt-get update -qq
  local pkgs="mesa-vulkan-drivers libvulkan1 libegl1 libegl-mesa0 libgles2 libgl1-mesa-dri"
  log "installing ${pkgs}${suite:+ from $suite}"
  if [ -n "$suite" ]; then
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq -t "$suite" $pkgs >/dev/null
  else
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $pkgs >/dev/null
  fi
}

if probe --quiet; then
  log "WebGPU adapter already available"
else
  install_mesa
fi

# --- 3. verify ------------------------------------------------------------------------------
probe || die "still no WebGPU adapter after installing Mesa: run 'node scripts/probe-adapter.mjs' to see Dawn's message"

# --- 4. chromium for the browser tests ---------------------------------------------------------
# The tests drive it headless with playwright-core (an npm dependency that downloads no browser).
if [ "${RBD_SETUP_CHROMIUM:-1}" = 0 ]; then
  log "chromium skipped (RBD_SETUP_CHROMIUM=0; the browser tests then need RBD_TEST_BROWSER=0)"
elif [ -x /usr/bin/chromium ]; then
  log "chromium already installed: $(/usr/bin/chromium --version 2>/dev/null || echo 'version unknown')"
else
  command -v apt-get >/dev/null || die "chromium is missing and apt-get is not available: install Chromium at /usr/bin/chromium (or set RBD_CHROMIUM), or set RBD_SETUP_CHROMIUM=0 and RBD_TEST_BROWSER=0"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  log "installing chromium (apt)"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
  log "chromium: $(/usr/bin/chromium --version 2>/dev/null)"
fi
log "done"
