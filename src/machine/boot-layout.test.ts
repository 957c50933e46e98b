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

test("too little memory is a one-line error naming the sizes", () => {
  assert.throws(
    () =>
      planBootLayout({
        ramBase: 0x80000000,
        ramSize: 32 * MiB,
        kernelSize: 10 * MiB,
        initrdSize: 8 * MiB,
        fdtSize: 3000,
      }),
    /^FieldError: memBytes: memory too small: 32 MiB of RAM cannot hold the kernel 10 MiB and initrd 8 MiB; \d+M or more is needed$/,
  );
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
