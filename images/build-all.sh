#!/bin/bash
# Rebuild every bundled guest artifact and regenerate images/riscv64/VERSIONS.md.
#
#   images/build-all.sh                 kernel + initramfs + VERSIONS.md
#   REPRO_CHECK=1 images/build-all.sh   also rebuild the kernel a second time
#                                       (other directory) and compare sha256
#   RUN_TESTS=1 images/build-all.sh     also boot-test under QEMU
#                                       (images/test-qemu.py)
#
# Build trees live in $BUILD_DIR (default /work/build-images), outside the repo.
# Needs root (apt-get, mknod) on Debian bookworm.
set -euo pipefail
IMAGES=$(cd "$(dirname "$0")" && pwd)
export LC_ALL=C TZ=UTC

if [ "${SKIP_BUILD:-0}" != 1 ]; then   # SKIP_BUILD=1: only regenerate VERSIONS.md (= gen-versions.sh)
  "$IMAGES/build-kernel.sh"
  "$IMAGES/build-initramfs.sh"
fi

"$IMAGES/gen-versions.sh"

if [ "${RUN_TESTS:-0}" = 1 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends qemu-system-misc opensbi python3 >/dev/null
  "$IMAGES/test-qemu.py"
fi
echo "[build-all] done; see $IMAGES/riscv64/VERSIONS.md"
