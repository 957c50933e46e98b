#!/bin/bash
# Build the tvisor riscv64 guest kernel from Debian's linux-source-6.1.
#
#   images/build-kernel.sh            build, write images/riscv64/Image.gz,
#                                     images/linux/config-6.1-riscv64 and the build
#                                     record images/riscv64/kernel.buildinfo
#   REPRO_CHECK=1 images/build-kernel.sh
#                                     additionally rebuild from scratch in a
#                                     second directory and compare sha256
#
# Environment: BUILD_DIR (default /work/build-images), JOBS (default 2),
#              NO_APT=1 to skip apt-get.
set -euo pipefail

IMAGES=$(cd "$(dirname "$0")" && pwd)
BUILD_DIR=${BUILD_DIR:-/work/build-images}
JOBS=${JOBS:-2}
FRAGMENT=$IMAGES/linux/tvisor.config
SRC_TAR=/usr/src/linux-source-6.1.tar.xz

export ARCH=riscv
export CROSS_COMPILE=riscv64-linux-gnu-
# Reproducible build metadata (ends up in `uname -v` / /proc/version).
export KBUILD_BUILD_TIMESTAMP="Wed Jan  1 00:00:00 UTC 2025"
export KBUILD_BUILD_USER=tvisor
export KBUILD_BUILD_HOST=tvisor
export KBUILD_BUILD_VERSION=1
export LC_ALL=C TZ=UTC
umask 022

log() { echo "[build-kernel] $*" >&2; }

if [ "${NO_APT:-0}" != 1 ]; then
  need=()
  for p in linux-source-6.1 gcc-riscv64-linux-gnu binutils-riscv64-linux-gnu gcc libc6-dev binutils \
           make bc bison flex libssl-dev libelf-dev xz-utils gzip python3; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
  done
  if [ ${#need[@]} -gt 0 ]; then
    log "installing ${need[*]}"
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}"
  fi
fi

PKG_VERSION=$(dpkg-query -W -f='${Version}' linux-source-6.1)
log "linux-source-6.1 $PKG_VERSION, $(${CROSS_COMPILE}gcc --version | head -1)"

mkdir -p "$BUILD_DIR"
SRC=$BUILD_DIR/linux-source-6.1
STAMP=$SRC/.tvisor-extracted-$PKG_VERSION
if [ ! -e "$STAMP" ]; then
  log "extracting $SRC_TAR"
  rm -rf "$SRC"
  tar -C "$BUILD_DIR" -xf "$SRC_TAR"
  touch "$STAMP"
fi

# Verify every line of the fragment made it into the final .config.
check_config() {
  local cfg=$1 bad=0 l s
  while IFS= read -r l; do
    if [[ $l == "# CONFIG_"*" is not set" ]]; then
      s=${l#\# }; s=${s%% *}
      if grep -q "^$s=" "$cfg"; then
        log "MISMATCH: wanted $s unset, got $(grep "^$s=" "$cfg")"; bad=1
      fi
    elif [[ $l == CONFIG_* ]]; then
      s=${l%%=*}
      if ! grep -qxF "$l" "$cfg"; then
        log "MISMATCH: wanted $l, got $(grep -E "^$s=|^# $s is" "$cfg" || echo absent)"; bad=1
      fi
    fi
  done < "$FRAGMENT"
  # Belt and braces: nothing that costs time at runtime.
  if grep -E '^CONFIG_(KASAN|PROVE_LOCKING|LOCKDEP|FTRACE|FUNCTION_TRACER|DEBUG_INFO_DWARF[^=]*|DEBUG_VM|DEBUG_BUGVERBOSE|SLUB_DEBUG|MODULES|PCI|KALLSYMS)=y' "$cfg"; then
    log "MISMATCH: forbidden option enabled"; bad=1
  fi
  return $bad
}

# build_one OUTDIR -> OUTDIR/arch/riscv/boot/Image
build_one() {
  local out=$1
  rm -rf "$out"; mkdir -p "$out"
  log "configuring in $out (allnoconfig + $(basename "$FRAGMENT"))"
  (cd "$SRC" && scripts/kconfig/merge_config.sh -n -O "$out" "$FRAGMENT") >"$out/merge.log" 2>&1 \
    || { cat "$out/merge.log"; exit 1; }
  make -C "$SRC" O="$out" olddefconfig >/dev/null
  check_config "$out/.config"
  log "building Image with -j$JOBS (log: $out/build.log)"
  if ! make -C "$SRC" O="$out" -j"$JOBS" Image >"$out/build.log" 2>&1; then
    tail -50 "$out/build.log"; exit 1
  fi
}

OUT=$BUILD_DIR/linux-out
build_one "$OUT"

mkdir -p "$IMAGES/riscv64" "$IMAGES/linux"
cp "$OUT/.config" "$IMAGES/linux/config-6.1-riscv64"
gzip -n -9 -c "$OUT/arch/riscv/boot/Image" > "$IMAGES/riscv64/Image.gz"
sha_img=$(sha256sum < "$OUT/arch/riscv/boot/Image" | cut -d' ' -f1)
log "Image     $(stat -c %s "$OUT/arch/riscv/boot/Image") bytes sha256 $sha_img"
log "Image.gz  $(stat -c %s "$IMAGES/riscv64/Image.gz") bytes sha256 $(sha256sum < "$IMAGES/riscv64/Image.gz" | cut -d' ' -f1)"
log "version   $(strings "$OUT/arch/riscv/boot/Image" | awk '/^Linux version/ && !f {print; f=1}')"

# The build record images/gen-versions.sh turns into VERSIONS.md: what this artifact was built from.
dver() { dpkg-query -W -f='${Version}' "$1"; }
cat > "$IMAGES/riscv64/kernel.buildinfo" <<EOF
# Written by images/build-kernel.sh with riscv64/Image.gz; read by images/gen-versions.sh. Do not edit.
image_gz_sha256=$(sha256sum < "$IMAGES/riscv64/Image.gz" | cut -d' ' -f1)
config_sha256=$(sha256sum < "$IMAGES/linux/config-6.1-riscv64" | cut -d' ' -f1)
linux-source-6.1=$PKG_VERSION
gcc-riscv64-linux-gnu=$(dver gcc-riscv64-linux-gnu)
gcc-12-riscv64-linux-gnu=$(dver gcc-12-riscv64-linux-gnu)
binutils-riscv64-linux-gnu=$(dver binutils-riscv64-linux-gnu)
EOF

if [ "${REPRO_CHECK:-0}" = 1 ]; then
  OUT2=$BUILD_DIR/linux-out-repro
  build_one "$OUT2"
  sha2=$(sha256sum < "$OUT2/arch/riscv/boot/Image" | cut -d' ' -f1)
  if [ "$sha_img" != "$sha2" ]; then
    log "REPRODUCIBILITY FAILURE: $sha_img != $sha2"; exit 1
  fi
  log "reproducible: second build in $OUT2 has the same sha256"
fi
