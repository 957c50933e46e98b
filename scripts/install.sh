#!/usr/bin/env bash
# Sets tvisor up on a fresh Debian/Ubuntu machine.
#   bash scripts/install.sh          what running a VM needs: Node.js 20+, the npm packages, then the build.
#   bash scripts/install.sh --test   also what the tests need (QEMU and its tools as interop peers, firmware
#                                    for the boot tests, dtc); no build, because `npm test` builds.
# Running tvisor needs Node.js and passt (user-mode NAT for `--nic user`, small, no dependencies);
# every test peer is in TEST_PKGS, one list to extend.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages, one variable per set. --no-install-recommends keeps QEMU's GUI (GTK, GStreamer, Mesa) out.
RUN_PKGS="passt"
TEST_PKGS="qemu-utils qemu-system-misc opensbi u-boot-qemu device-tree-compiler chromium"
NODE_PKGS="nodejs npm"

mode="run"
case "${1:-}" in
  "") ;;
  --test) mode="test" ;;
  *)
    echo "usage: bash scripts/install.sh [--test]" >&2
    exit 2
    ;;
esac

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive

node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

pkgs="$RUN_PKGS"
if [ "$mode" = "test" ]; then pkgs="$pkgs $TEST_PKGS"; fi
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1 || [ "$(node_major)" -lt 20 ]; then
  pkgs="$pkgs $NODE_PKGS"
fi
need=""
for p in $pkgs; do
  [ "$(dpkg-query -W -f '${Status}' "$p" 2>/dev/null)" = "install ok installed" ] || need="$need $p"
done
if [ -n "$need" ]; then
  $SUDO apt-get update -q
  # shellcheck disable=SC2086 # the package list is meant to split into words
  $SUDO apt-get install -y -q --no-install-recommends $need
fi
if [ "$(node_major)" -lt 20 ]; then
  # Debian 12 and Ubuntu 24.04 ship Node 18. The npm registry's `node` package carries the official
  # Node 20 binary (as the node-linux-* packages), which installs into npm's global prefix.
  $SUDO npm install -g --no-audit --no-fund node@20
  hash -r
fi
if [ "$(node_major)" -lt 20 ]; then
  echo "tvisor needs Node.js 20 or newer (found $(node --version))" >&2
  exit 1
fi
# The lock file is the contract: npm ci installs exactly it and fails (rather than rewriting it) if it
# does not match package.json.
npm ci --no-audit --no-fund
if [ "$mode" = "run" ]; then npm run build; fi
