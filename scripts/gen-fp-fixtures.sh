#!/bin/sh
# Regenerates tests/fixtures/fp/*.json: builds the bare-metal vector runner (scripts/fp-fixtures/runner.S),
# runs it on QEMU's spike machine (the reference implementation) and records results and fflags.
# Needs: riscv64-linux-gnu-gcc (Debian gcc-riscv64-linux-gnu), qemu-system-riscv64 (qemu-system-misc), node.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
node "$here/fp-fixtures/gen-vectors.mjs" "$work"
cp "$here/fp-fixtures/runner.S" "$work/"
(cd "$work" && riscv64-linux-gnu-gcc -march=rv64gc -mabi=lp64d -nostdlib -static -no-pie -mcmodel=medany -Wl,--build-id=none -Wl,--no-warn-rwx-segments \
  -T "$here/fp-fixtures/link.ld" -o runner.elf runner.S)
# The spike machine's HTIF console is the first serial device, which -nographic connects to stdout.
timeout 600 qemu-system-riscv64 -M spike -bios none -nographic -kernel "$work/runner.elf" \
  >"$work/out.txt" </dev/null
node "$here/fp-fixtures/collect.mjs" "$work/vectors-meta.json" "$work/out.txt" "$root/tests/fixtures/fp"
