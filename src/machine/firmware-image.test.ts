/** Firmware images: raw binaries pass through; ELF firmware is flattened or rejected with a clear error. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { UserError } from "../base/errors.js";
import { flattenFirmware } from "./firmware-image.js";

/** A minimal ELF64 RISC-V executable with one PT_LOAD segment. */
function elf(entry: number, paddr: number, payload: number[], memSize = payload.length): Uint8Array {
  const b = new Uint8Array(64 + 56 + payload.length);
  const dv = new DataView(b.buffer);
  b.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
  dv.setUint16(16, 2, true); // ET_EXEC
  dv.setUint16(18, 243, true); // EM_RISCV
  dv.setUint32(20, 1, true);
  dv.setBigUint64(24, BigInt(entry), true);
  dv.setBigUint64(32, 64n, true); // e_phoff
  dv.setUint16(52, 64, true);
  dv.setUint16(54, 56, true);
  dv.setUint16(56, 1, true);
  dv.setUint32(64, 1, true); // PT_LOAD
  dv.setUint32(68, 5, true);
  dv.setBigUint64(72, 120n, true);
  dv.setBigUint64(80, BigInt(paddr), true);
  dv.setBigUint64(88, BigInt(paddr), true);
  dv.setBigUint64(96, BigInt(payload.length), true);
  dv.setBigUint64(104, BigInt(memSize), true);
  b.set(payload, 120);
  return b;
}

test("raw firmware is used as is", () => {
  const raw = new Uint8Array([0x13, 0, 0, 0]);
  assert.equal(flattenFirmware(raw, 0x80000000, 1 << 21), raw);
});

test("ELF firmware becomes the flat image from the start of RAM, .bss zeroed", () => {
  const flat = flattenFirmware(elf(0x80000000, 0x80000000, [1, 2, 3, 4], 16), 0x80000000, 1 << 21);
  assert.deepEqual([...flat], [1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
});

test("ELF firmware with another entry or outside the firmware area is refused", () => {
  assert.throws(() => flattenFirmware(elf(0x80001000, 0x80000000, [1]), 0x80000000, 1 << 21), UserError);
  assert.throws(() => flattenFirmware(elf(0x80000000, 0x80400000, [1]), 0x80000000, 1 << 21), UserError);
});
