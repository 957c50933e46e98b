#!/bin/sh
# Assembles every tests/isa/src/*.S into tests/isa/bin/*.elf with Debian's RISC-V cross toolchain.
# The built ELFs are committed so CI needs no toolchain; rerun this after editing a source.
#
# Usage: tests/isa/build.sh [--check] [name...]
#   --check  also builds each program with -DQEMU_REFERENCE into a temporary directory and runs it on
#            qemu-system-riscv64 -M spike (the referee). QEMU_REFERENCE only relaxes the few checks where
#            QEMU 7.2 deviates from the privileged spec; each such place says why in its source.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
CC=${CC:-riscv64-linux-gnu-gcc}
check=0
if [ "${1:-}" = "--check" ]; then check=1; shift; fi
mkdir -p "$here/bin"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0
# cc OUT SRC: assemble in the source's folder under a fixed object name, then link, so the ELF's symbol
# table names no temporary file or checkout path and a rebuild is byte-identical.
cc() {
  out=$1
  src=$2
  obj="$tmp/$(basename "$src" .S).o"
  (cd "$(dirname "$src")" && "$CC" -march=rv64gc -mabi=lp64d -fno-pic $CFLAGS_EXTRA -Wa,-mno-relax -I "$here/src" \
    -c -o "$obj" "$(basename "$src")")
  "$CC" -march=rv64gc -mabi=lp64d -nostdlib -nostartfiles -static -no-pie \
    -Wl,--build-id=none -Wl,--no-warn-rwx-segments -T "$here/link.ld" -o "$out" "$obj"
}
CFLAGS_EXTRA=
if [ $# -gt 0 ]; then srcs=$(for n in "$@"; do echo "$here/src/$n.S"; done); else srcs=$(ls "$here"/src/*.S); fi
for src in $srcs; do
  name=$(basename "$src" .S)
  cc "$here/bin/$name.elf" "$src"
  if [ $check = 1 ]; then
    CFLAGS_EXTRA=-DQEMU_REFERENCE cc "$tmp/$name.elf" "$src"
    if [ -n "${QEMU_KEEP:-}" ]; then cp "$tmp/$name.elf" "$QEMU_KEEP/"; fi
    rc=0
    timeout 60 qemu-system-riscv64 -M spike -m 256M -bios none -nographic -monitor none -icount shift=0 \
      -kernel "$tmp/$name.elf" >"$tmp/$name.log" 2>&1 || rc=$?
    if [ $rc = 0 ]; then echo "qemu: $name PASS"; else echo "qemu: $name FAIL (exit $rc = failing case)"; cat "$tmp/$name.log"; status=1; fi
  fi
done
# Multi-hart programs (tests/isa/smp/*.S) run with several harts (tests/isa/smp.test.ts; QEMU: -smp N).
if [ $# -eq 0 ]; then
  for src in "$here"/smp/*.S; do cc "${src%.S}.elf" "$src"; done
fi
# The CPU benchmark kernel (tests/bench/cpu.bench.ts) is built the same way; it is not a test program.
if [ $# -eq 0 ]; then
  cc "$here/../bench/cpu/cpu-bench.elf" "$here/../bench/cpu/cpu-bench.S"
fi
exit $status
