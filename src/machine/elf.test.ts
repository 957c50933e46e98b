/** Tests for the ELF64 loader: real RISC-V programs load, and malformed or foreign files get one-line errors. */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { UserError } from "../base/errors.js";
import { GuestRam } from "../memory/guest-ram.js";
import { loadElf, parseElf } from "./elf.js";

// Tests run from the repository root (npm test / node --test dist/...).
const sample = readFileSync(join("tests", "isa", "bin", "rv64i.elf"));

function rejects(data: Uint8Array, pattern: RegExp): void {
  assert.throws(
    () => parseElf(data),
    (e: unknown) => e instanceof UserError && pattern.test(e.message) && !e.message.includes("\n"),
  );
}

test("parses a RISC-V executable: entry, PT_LOAD segments, tohost/fromhost symbols", () => {
  const img = parseElf(sample);
  assert.equal(img.entry, 0x80000000n);
  assert.ok(img.segments.length >= 1);
  assert.equal(img.segments[0].paddr, 0x80000000);
  const tohost = img.symbols.get("tohost");
  const fromhost = img.symbols.get("fromhost");
  assert.ok(tohost !== undefined && fromhost !== undefined);
  assert.equal(Number(tohost) % 8, 0);
  assert.notEqual(tohost, fromhost);
});

test("loads segments at their physical addresses and zeroes .bss", () => {
  const img = parseElf(sample);
  const ram = new GuestRam(0x80000000, 1 << 20);
  ram.u8.fill(0xaa);
  loadElf(img, sample, ram);
  const first = img.segments[0];
  assert.deepEqual(
    ram.u8.slice(0, 16),
    Uint8Array.from(sample.subarray(first.fileOffset, first.fileOffset + 16)),
  );
  for (const s of img.segments) {
    if (s.memSize > s.fileSize) assert.equal(ram.u8[s.paddr - ram.base + s.memSize - 1], 0);
  }
});

test("rejects files that are not ELF, truncated, 32-bit or for another machine", () => {
  rejects(new Uint8Array(0), /^not an ELF file$/);
  rejects(new TextEncoder().encode("#!/bin/sh\necho hi\n"), /^not an ELF file$/);
  rejects(sample.subarray(0, 40), /truncated ELF/);
  const x86 = Uint8Array.from(sample);
  x86[18] = 62;
  x86[19] = 0;
  rejects(x86, /^ELF is for machine x86-64 \(62\), not RISC-V$/);
  const rv32 = Uint8Array.from(sample);
  rv32[4] = 1;
  rejects(rv32, /32-bit/);
});

test("rejects corrupt header fields instead of reading out of bounds", () => {
  const badPh = Uint8Array.from(sample);
  new DataView(badPh.buffer).setBigUint64(32, 0xffffffff00n, true); // e_phoff far past the end
  rejects(badPh, /truncated ELF/);
  const huge = Uint8Array.from(sample);
  new DataView(huge.buffer).setBigUint64(32, 0xffffffffffffff00n, true);
  rejects(huge, /corrupt ELF/);
  const badSeg = Uint8Array.from(sample);
  const dv = new DataView(badSeg.buffer);
  const phoff = Number(dv.getBigUint64(32, true));
  let ph = phoff;
  while (dv.getUint32(ph, true) !== 1) ph += 56; // the first PT_LOAD
  dv.setBigUint64(ph + 32, 0x10000000n, true); // p_filesz and p_memsz beyond the file
  dv.setBigUint64(ph + 40, 0x10000000n, true);
  rejects(badSeg, /corrupt ELF|truncated ELF/);
});

test("a program that loads outside RAM is a one-line error", () => {
  const img = parseElf(sample);
  const ram = new GuestRam(0x90000000, 4096);
  assert.throws(
    () => loadElf(img, sample, ram),
    (e: unknown) =>
      e instanceof UserError &&
      /^segment 0x80000000\.\.0x[0-9a-f]+ outside RAM \[0x90000000, 0x90001000\)$/.test(e.message),
  );
});
