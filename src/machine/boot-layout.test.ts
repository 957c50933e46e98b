/** Tests for boot memory placement and the too-small-memory error. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { planBootLayout } from "./boot-layout.js";

const MiB = 1024 * 1024;

test("kernel at +2 MiB, FDT 2 MiB-aligned at the top, initrd just below it", () => {
  const l = planBootLayout({
    ramBase: 0x80000000,
    ramSize: 128 * MiB,
    kernelSize: 10 * MiB,
    initrdSize: 3 * MiB + 5,
    fdtSize: 3000,
  });
  assert.equal(l.kernelAddr, 0x80200000);
  assert.equal(l.fdtAddr, 0x80000000 + 126 * MiB);
  assert.equal(l.initrdAddr % 4096, 0);
  assert.ok(l.initrdAddr + 3 * MiB + 5 <= l.fdtAddr);
  assert.ok(l.initrdAddr >= 0x80200000 + 10 * MiB);
});

test("too little memory says what the layout needs, and that much is enough", () => {
  const input = { ramBase: 0x80000000, kernelSize: 10 * MiB, initrdSize: 8 * MiB, fdtSize: 3000 };
  assert.throws(
    () => planBootLayout({ ...input, ramSize: 32 * MiB }),
    new RegExp(
      "^FieldError: memBytes: memory too small: the boot layout needs 38 MiB of RAM, not 32 MiB: the kernel at " +
        "0x80200000 \\(2 MiB into RAM\\) spanning 10 MiB \\(its image_size\\), 16 MiB free above it for " +
        "Linux, the initrd \\(8 MiB\\), the device tree in a 2 MiB-aligned block at the top of RAM$",
    ),
  );
  // 2 + 10 + 16 + 8 + 2 (the FDT's block) = 38 MiB: enough, and 2 MiB less is not.
  assert.doesNotThrow(() => planBootLayout({ ...input, ramSize: 38 * MiB }));
  assert.throws(() => planBootLayout({ ...input, ramSize: 36 * MiB }), /needs 38 MiB of RAM, not 36 MiB/);
  // Without an initrd, the sizes still add up (the bundled kernel's 16M case of the issue).
  const noInitrd = { ramBase: 0x80000000, kernelSize: 5 * MiB, fdtSize: 4000 };
  assert.throws(() => planBootLayout({ ...noInitrd, ramSize: 16 * MiB }), /needs 26 MiB of RAM, not 16 MiB/);
  assert.doesNotThrow(() => planBootLayout({ ...noInitrd, ramSize: 26 * MiB }));
});

test("firmware must fit below the kernel", () => {
  assert.throws(
    () =>
      planBootLayout({
        ramBase: 0x80000000,
        ramSize: 128 * MiB,
        kernelSize: MiB,
        fdtSize: 100,
        firmwareSize: 3 * MiB,
      }),
    /must fit below the kernel/,
  );
});
