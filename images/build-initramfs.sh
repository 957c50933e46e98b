#!/bin/bash
# Build the tvisor riscv64 initramfs: a static busybox (Debian source package,
# Debian's "static" flavour config plus a few extra applets) cross-compiled
# with riscv64-linux-gnu-gcc (glibc, static), packed as a deterministic newc
# cpio archive -> images/riscv64/initramfs.cpio.gz.
#
# Environment: BUILD_DIR (default /work/build-images), JOBS (default 2),
#              NO_APT=1 to skip apt-get.  Must run as root (mknod, apt-get).
set -euo pipefail

IMAGES=$(cd "$(dirname "$0")" && pwd)
BUILD_DIR=${BUILD_DIR:-/work/build-images}
JOBS=${JOBS:-2}
CROSS=riscv64-linux-gnu-
# Fixed timestamp for every file in the archive and for busybox's banner.
export SOURCE_DATE_EPOCH=1735689600   # 2025-01-01 00:00:00 UTC
export KCONFIG_NOTIMESTAMP=1
export LC_ALL=C TZ=UTC
umask 022

log() { echo "[build-initramfs] $*" >&2; }

[ "$(id -u)" = 0 ] || { echo "must run as root (mknod, apt-get)" >&2; exit 1; }

if [ "${NO_APT:-0}" != 1 ]; then
  # deb-src for bookworm so that `apt-get source busybox` works.
  src_list=/etc/apt/sources.list.d/tvisor-deb-src.sources
  if [ ! -e "$src_list" ]; then
    log "adding $src_list"
    cat > "$src_list" <<'EOF'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    apt-get update
  fi
  need=()
  for p in gcc-riscv64-linux-gnu libc6-dev-riscv64-cross gcc libc6-dev dpkg-dev patch make cpio gzip bzip2 xz-utils file; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
  done
  if [ ${#need[@]} -gt 0 ]; then
    log "installing ${need[*]}"
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}"
  fi
fi

BB=$BUILD_DIR/busybox
mkdir -p "$BB"
BB_VERSION=$(apt-cache showsrc busybox | awk '/^Version:/{print $2}' | sort -V | tail -1)
BB_UPSTREAM=${BB_VERSION#*:}; BB_UPSTREAM=${BB_UPSTREAM%%-*}
DSC=busybox_${BB_VERSION#*:}.dsc
if [ ! -e "$BB/$DSC" ]; then
  log "apt-get source busybox ($BB_VERSION)"
  (cd "$BB" && apt-get source --download-only "busybox=$BB_VERSION")
fi
SRC=$BB/src-${BB_VERSION#*:}
if [ ! -e "$SRC/.tvisor-extracted" ]; then
  rm -rf "$SRC"
  (cd "$BB" && dpkg-source --no-check -x "$DSC" "$SRC") >/dev/null
  touch "$SRC/.tvisor-extracted"
fi

# --- configure: Debian's static flavour + tvisor overrides ----------------
OUT=$BB/out
rm -rf "$OUT"; mkdir -p "$OUT"
overrides=(
  CONFIG_STATIC=y
  CONFIG_MKE2FS=y CONFIG_MKFS_EXT2=y
  CONFIG_BLKID=y CONFIG_FLOCK=y CONFIG_CHRT=y CONFIG_FSCK=y
  CONFIG_CTTYHACK=y CONFIG_SETSID=y CONFIG_INIT=y
  CONFIG_HEXDUMP=y CONFIG_OD=y CONFIG_DD=y CONFIG_MOUNT=y CONFIG_NPROC=y
  CONFIG_UNAME=y CONFIG_POWEROFF=y CONFIG_REBOOT=y CONFIG_HOSTNAME=y
  # no ESC[6n terminal-size queries: the console may be a plain pipe
  "# CONFIG_FEATURE_EDITING_ASK_TERMINAL is not set"
  "# CONFIG_FEATURE_VI_ASK_TERMINAL is not set"
  "# CONFIG_FEATURE_LESS_ASK_TERMINAL is not set"
)
{
  for o in "${overrides[@]}"; do echo "$o"; done
  # drop the shipped values of overridden symbols (first assignment wins anyway)
  pat=$(printf '%s\n' "${overrides[@]}" | sed -E 's/^# //; s/[= ].*//' | paste -sd'|')
  grep -vE "^(# )?($pat)[= ]" "$SRC/debian/config/pkg/static"
} > "$OUT/.config"
{ yes "" || true; } | make -C "$OUT" -f "$SRC/Makefile" KBUILD_SRC="$SRC" CROSS_COMPILE="$CROSS" oldconfig >/dev/null
for o in "${overrides[@]}"; do
  grep -qxF "$o" "$OUT/.config" || { log "busybox config lost $o"; exit 1; }
done

log "building busybox $BB_VERSION (log: $OUT/build.log)"
if ! make -C "$OUT" -j"$JOBS" all CROSS_COMPILE="$CROSS" SKIP_STRIP=n \
      BB_EXTRA_VERSION="Debian $BB_VERSION" >"$OUT/build.log" 2>&1; then
  tail -40 "$OUT/build.log"; exit 1
fi
make -C "$OUT" busybox.links CROSS_COMPILE="$CROSS" BB_EXTRA_VERSION="Debian $BB_VERSION" >>"$OUT/build.log" 2>&1
file "$OUT/busybox" | grep -q 'statically linked' || { log "busybox is not static"; exit 1; }

# --- root filesystem --------------------------------------------------------
ROOT=$BUILD_DIR/initramfs-root
rm -rf "$ROOT"; mkdir -p "$ROOT"
cd "$ROOT"
mkdir -p bin sbin usr/bin usr/sbin etc proc sys dev tmp run root mnt var/log
chmod 1777 tmp
ln -s ../run var/run
install -m 0755 "$OUT/busybox" bin/busybox
# every applet, at the path busybox itself lists
while read -r l; do
  l=${l#/}
  [ "$l" = bin/busybox ] && continue
  [ -e "$l" ] || [ -L "$l" ] || ln -s /bin/busybox "$l"
done < "$OUT/busybox.links"
mknod -m 600 dev/console c 5 1
mknod -m 666 dev/null c 1 3

cat > init <<'EOF'
#!/bin/sh
# tvisor initramfs /init: mount the basics, announce readiness, then hand
# over to busybox init, which respawns a job-control shell on the console.
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /dev/shm
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs -o mode=755 tmpfs /run
hostname tvisor
ip link set lo up 2>/dev/null
echo "tvisor: guest ready"
exec /sbin/init
EOF
chmod 0755 init

cat > etc/inittab <<'EOF'
# busybox init(8) configuration for tvisor (system setup is done by /init).
# cttyhack reopens the real console device (ttyS0, hvc0, ...) so that the
# shell gets a controlling tty and job control; respawned when it exits.
::respawn:/bin/cttyhack /bin/sh -l
::ctrlaltdel:/sbin/reboot
::shutdown:/bin/sync
::restart:/sbin/init
EOF
cat > etc/profile <<'EOF'
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
export HOME=/root TERM=${TERM:-vt100}
PS1='\u@\h:\w\$ '
cd "$HOME"
EOF
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > etc/passwd
printf 'root:x:0:\ntty:x:5:\nnogroup:x:65534:\n' > etc/group
printf 'root::0:0:99999:7:::\n' > etc/shadow; chmod 600 etc/shadow
echo tvisor > etc/hostname
printf '127.0.0.1 localhost\n127.0.1.1 tvisor\n' > etc/hosts
ln -s /proc/mounts etc/mtab
# udhcpc hook: `udhcpc -i eth0` configures address, default route and DNS.
mkdir -p etc/udhcpc
cat > etc/udhcpc/default.script <<'EOF'
#!/bin/sh
case "$1" in
  deconfig)
    ip addr flush dev "$interface"
    ip link set "$interface" up
    ;;
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" dev "$interface"
    for r in $router; do ip route add default via "$r" dev "$interface"; break; done
    : > /etc/resolv.conf
    for d in $dns; do echo "nameserver $d" >> /etc/resolv.conf; done
    ;;
esac
exit 0
EOF
chmod 0755 etc/udhcpc/default.script
: > etc/fstab

# --- deterministic newc archive ---------------------------------------------
find . -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
mkdir -p "$IMAGES/riscv64"
find . -mindepth 1 -printf '%P\n' | sort \
  | cpio --quiet -o -H newc -R 0:0 --reproducible \
  | gzip -n -9 > "$IMAGES/riscv64/initramfs.cpio.gz"
cd /
log "busybox $(stat -c %s "$OUT/busybox") bytes; applets: $(wc -l < "$OUT/busybox.links")"
log "initramfs.cpio.gz $(stat -c %s "$IMAGES/riscv64/initramfs.cpio.gz") bytes sha256 $(sha256sum < "$IMAGES/riscv64/initramfs.cpio.gz" | cut -d' ' -f1)"

# The build record images/gen-versions.sh turns into VERSIONS.md: what this artifact was built from.
cat > "$IMAGES/riscv64/initramfs.buildinfo" <<EOF
# Written by images/build-initramfs.sh with riscv64/initramfs.cpio.gz; read by images/gen-versions.sh. Do not edit.
initramfs_sha256=$(sha256sum < "$IMAGES/riscv64/initramfs.cpio.gz" | cut -d' ' -f1)
busybox=$BB_VERSION
libc6-dev-riscv64-cross=$(dpkg-query -W -f='${Version}' libc6-dev-riscv64-cross)
gcc-riscv64-linux-gnu=$(dpkg-query -W -f='${Version}' gcc-riscv64-linux-gnu)
EOF
