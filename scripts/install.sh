#!/usr/bin/env bash
# Installs everything tvisor needs on a fresh Debian/Ubuntu machine, then builds it.
# Debian packages: QEMU's tools (interop tests and benchmark peers) and OpenSBI (firmware boot test).
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
pkgs="qemu-utils opensbi qemu-system-misc"
need=""
for p in $pkgs; do dpkg -s "$p" >/dev/null 2>&1 || need="$need $p"; done
if ! command -v node >/dev/null 2>&1 || [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  need="$need nodejs npm"
fi
if [ -n "$need" ]; then
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q $need
fi
if [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  # Debian 12 and Ubuntu 24.04 ship Node 18. The npm registry's `node` package carries the official
  # Node 20 binary (as the node-linux-* packages), which installs into npm's global prefix.
  $SUDO npm install -g --no-audit --no-fund node@20
  hash -r
fi
if [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  echo "tvisor needs Node.js 20 or newer (found $(node --version))" >&2
  exit 1
fi
# npm 11 records only this platform's optional packages (Biome's per-OS binaries) in the lock file and
# then rejects its own lock in `npm ci`; fall back to an install pinned by the same lock file.
npm ci --no-audit --no-fund || npm install --no-audit --no-fund
npm run build
