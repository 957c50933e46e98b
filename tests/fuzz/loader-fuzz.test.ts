/**
 * Bad user input for the loaders: mutated Linux Image headers (flat and gzip), mutated ELF files (bare
 * programs and --bios firmware), boot layouts and VM option strings. Every input must either load or be
 * refused with a UserError carrying a one-line message; never a TypeError/RangeError, never a hang.
 * Seeds are fixed, so any failure replays. Nothing here measures time: the ELF parser's work is counted
 * through its WorkBudget, and every other loader step is constant work or bounded by a size cap.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { gzipSync } from "node:zlib";
import { UserError } from "../../src/base/errors.js";
import { prng } from "../../src/base/testing.js";
import { WorkBudget } from "../../src/base/work-budget.js";
import { parseCpus, parseDiskSpec, parseMemSize } from "../../src/cli/vm-flags.js";
import type { CharBackend } from "../../src/io/char-backend.js";
import { planBootLayout } from "../../src/machine/boot-layout.js";
import {
  ELF_WORK_BASE,
  ELF_WORK_PER_FILE_BYTE,
  type ElfImage,
  loadElf,
  parseElf,
} from "../../src/machine/elf.js";
import { flattenFirmware } from "../../src/machine/firmware-image.js";
import { IMAGE_HEADER_SIZE, loadLinuxKernel, parseLinuxImageHeader } from "../../src/machine/linux-image.js";
import { nodeGunzip } from "../../src/machine/node/gunzip.js";
import { RiscvVirt } from "../../src/machine/riscv-virt.js";
import { GuestRam } from "../../src/memory/guest-ram.js";

const RAM_BASE = 0x80000000;
const M64 = (1n << 64n) - 1n;

/** Run `fn`; it may succeed, or throw a UserError with a non-empty one-line message. Returns whether it succeeded. */
async function userErrorOrOk(what: string, fn: () => unknown): Promise<boolean> {
  try {
    await fn();
    return true;
  } catch (e) {
    if (!(e instanceof UserError)) {
      assert.fail(
        `${what}: threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}, not a UserError`,
      );
    }
    assert.ok(
      e.message.length > 0 && !e.message.includes("\n"),
      `${what}: message ${JSON.stringify(e.message)}`,
    );
    return false;
  }
}

/** Thrown by the counting budget below, so a test can tell "the budget ran out" from other refusals. */
class BudgetExceeded extends UserError {}

/** The parser's own budget (elfWorkBudget), but counting and with a distinguishable error. */
function countingBudget(fileBytes: number): WorkBudget {
  return new WorkBudget(
    ELF_WORK_PER_FILE_BYTE * fileBytes + ELF_WORK_BASE,
    (limit) => new BudgetExceeded(`budget of ${limit} exceeded`),
  );
}

/**
 * Run an ELF step with its work counted. For an ordinary file (`hostile` false) the natural work must
 * stay inside the budget (linear in the file size): running it out means some loop the file controls is
 * superlinear. A hostile construction may run it out, which must end the parse with a UserError.
 */
function counted<T>(data: Uint8Array, hostile: boolean, fn: (budget: WorkBudget) => T): T {
  const budget = countingBudget(data.length);
  try {
    return fn(budget);
  } catch (e) {
    if (e instanceof BudgetExceeded && !hostile)
      assert.fail(`a ${data.length}-byte ELF used up its work budget (${budget.spent} spent)`);
    throw e;
  } finally {
    assert.ok(budget.spent <= budget.limit, `${budget.spent} units spent of ${budget.limit}`);
  }
}

function parseCounted(data: Uint8Array, hostile = false): ElfImage {
  return counted(data, hostile, (budget) => parseElf(data, { budget }));
}

function flattenCounted(data: Uint8Array, hostile = false): Uint8Array {
  return counted(data, hostile, (budget) => flattenFirmware(data, RAM_BASE, 2 << 20, { budget }));
}

/** Interesting 64-bit values for header fields. */
function edge64(next: () => number): bigint {
  const v = [
    0n,
    1n,
    2n,
    0xfffn,
    0x1000n,
    0x200000n,
    0x7fffffffn,
    0xffffffffn,
    1n << 53n,
    (1n << 53n) - 1n,
    1n << 63n,
    M64,
  ];
  return next() % 3 === 0 ? (BigInt(next()) << 32n) | BigInt(next()) : v[next() % v.length];
}

// ---------------- Linux Image ----------------

function linuxImage(payload = 256): Uint8Array {
  const b = new Uint8Array(IMAGE_HEADER_SIZE + payload);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, 0x0400006f, true);
  dv.setBigUint64(8, 0x200000n, true);
  dv.setBigUint64(16, 0x10000n, true);
  dv.setUint32(32, 0x2, true);
  dv.setBigUint64(48, 0x5643534952n, true);
  dv.setUint32(56, 0x05435352, true);
  for (let i = IMAGE_HEADER_SIZE; i < b.length; i++) b[i] = i & 0xff;
  return b;
}

function mutateImage(base: Uint8Array, next: () => number): Uint8Array {
  let b = base.slice();
  const dv = () => new DataView(b.buffer, b.byteOffset, b.byteLength);
  const k = next() % 6;
  if (k === 0) b = b.subarray(0, next() % (b.length + 1));
  else if (k === 1) dv().setBigUint64([8, 16, 24][next() % 3], edge64(next), true);
  else if (k === 2) for (let i = 0; i < 4; i++) b[next() % IMAGE_HEADER_SIZE] = next() & 0xff;
  else if (k === 3) dv().setUint32(56, next(), true);
  else if (k === 4) {
    dv().setUint32(56, 0, true);
    dv().setBigUint64(48, next() % 2 === 0 ? 0x5643534952n : 0n, true);
  } else b[next() % b.length] ^= 1 << (next() % 8);
  return b;
}

test("Linux Image: mutated headers load or fail with a one-line UserError, and loaded ones boot-plan or fail cleanly", async () => {
  const next = prng(0x11);
  const base = linuxImage();
  const con: CharBackend = { write: () => {}, onInput: () => {} };
  const clock = { nowNs: () => 0, wallNs: () => 0 };
  let ok = 0;
  let refused = 0;
  for (let i = 0; i < 600; i++) {
    const data = mutateImage(base, next);
    const loaded = await userErrorOrOk(`image #${i}`, async () => {
      const k = await loadLinuxKernel(data, nodeGunzip);
      // A header that parses must also place (or be refused) on a small board.
      const m = new RiscvVirt({ ramBytes: 32 << 20, harts: 1, firmware: "builtin", clock, console: con });
      m.loadLinux({ kernel: k, bootargs: "" });
    });
    if (loaded) ok++;
    else refused++;
  }
  assert.ok(ok > 20 && refused > 20, `ok ${ok}, refused ${refused}`);
});

test("Linux Image: image_size beyond 2^53 is named as implausible, not as smaller than the file", () => {
  const b = linuxImage();
  new DataView(b.buffer).setBigUint64(16, M64, true);
  assert.throws(
    () => parseLinuxImageHeader(b),
    (e: unknown) =>
      e instanceof UserError && /image_size 0xffffffffffffffff is not a plausible size/.test(e.message),
  );
});

test("gzip: truncated, bit-flipped and garbage-filled Image.gz files are UserErrors", async () => {
  const next = prng(0x22);
  const gz = new Uint8Array(gzipSync(linuxImage(4096)));
  let refused = 0;
  for (let i = 0; i < 200; i++) {
    let g = gz.slice();
    const k = next() % 4;
    if (k === 0) g = g.subarray(0, 18 + (next() % (g.length - 18)));
    else if (k === 1)
      for (let j = 0; j < 1 + (next() % 8); j++) g[10 + (next() % (g.length - 10))] ^= 1 << (next() % 8);
    else if (k === 2) for (let j = 10; j < g.length; j++) g[j] = next() & 0xff;
    else {
      // A valid gzip member of garbage: decompresses fine, then is no Image.
      g = new Uint8Array(gzipSync(Uint8Array.from({ length: 1000 }, () => next() & 0xff)));
    }
    if (!(await userErrorOrOk(`gzip #${i}`, () => loadLinuxKernel(g, nodeGunzip)))) refused++;
  }
  assert.ok(refused > 150, `only ${refused} of 200 refused`);
});

// ---------------- ELF ----------------

/** A small valid ELF64 RISC-V executable: two PT_LOAD segments at `base`, a symtab with tohost. */
function elf(base = RAM_BASE): Uint8Array {
  const code = new Uint8Array(64).fill(0x13);
  const strtab = new TextEncoder().encode("\0tohost\0_start\0");
  const ehsz = 64;
  const phoff = ehsz;
  const codeOff = phoff + 2 * 56;
  const symOff = codeOff + code.length;
  const strOff = symOff + 3 * 24;
  const shoff = (strOff + strtab.length + 7) & ~7;
  const b = new Uint8Array(shoff + 3 * 64);
  const dv = new DataView(b.buffer);
  b.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
  dv.setUint16(16, 2, true);
  dv.setUint16(18, 243, true);
  dv.setUint32(20, 1, true);
  dv.setBigUint64(24, BigInt(base), true);
  dv.setBigUint64(32, BigInt(phoff), true);
  dv.setBigUint64(40, BigInt(shoff), true);
  dv.setUint16(52, ehsz, true);
  dv.setUint16(54, 56, true);
  dv.setUint16(56, 2, true);
  dv.setUint16(58, 64, true);
  dv.setUint16(60, 3, true);
  const ph = (i: number, paddr: number, off: number, filesz: number, memsz: number) => {
    const p = phoff + 56 * i;
    dv.setUint32(p, 1, true);
    dv.setUint32(p + 4, 5, true);
    dv.setBigUint64(p + 8, BigInt(off), true);
    dv.setBigUint64(p + 16, BigInt(paddr), true);
    dv.setBigUint64(p + 24, BigInt(paddr), true);
    dv.setBigUint64(p + 32, BigInt(filesz), true);
    dv.setBigUint64(p + 40, BigInt(memsz), true);
  };
  ph(0, base, codeOff, code.length, code.length);
  ph(1, base + 0x1000, codeOff, 16, 0x100);
  b.set(code, codeOff);
  // Symbols: null, tohost (name 1), _start (name 8).
  dv.setUint32(symOff + 24, 1, true);
  dv.setUint16(symOff + 24 + 6, 1, true);
  dv.setBigUint64(symOff + 24 + 8, BigInt(base + 0x1000), true);
  dv.setUint32(symOff + 48, 8, true);
  dv.setUint16(symOff + 48 + 6, 1, true);
  dv.setBigUint64(symOff + 48 + 8, BigInt(base), true);
  b.set(strtab, strOff);
  const sh = (i: number, type: number, off: number, size: number, link: number, entsize: number) => {
    const s = shoff + 64 * i;
    dv.setUint32(s + 4, type, true);
    dv.setBigUint64(s + 24, BigInt(off), true);
    dv.setBigUint64(s + 32, BigInt(size), true);
    dv.setUint32(s + 40, link, true);
    dv.setBigUint64(s + 56, BigInt(entsize), true);
  };
  sh(1, 2, symOff, 3 * 24, 2, 24);
  sh(2, 3, strOff, strtab.length, 0, 0);
  return b;
}

/** Header, program-header and section-header field offsets worth corrupting, with their widths. */
function elfFields(b: Uint8Array): Array<[number, 1 | 2 | 4 | 8]> {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const f: Array<[number, 1 | 2 | 4 | 8]> = [
    [4, 1],
    [5, 1],
    [16, 2],
    [18, 2],
    [24, 8],
    [32, 8],
    [40, 8],
    [54, 2],
    [56, 2],
    [58, 2],
    [60, 2],
  ];
  const phoff = Number(dv.getBigUint64(32, true));
  for (let i = 0; i < 2; i++)
    for (const o of [0, 8, 16, 24, 32, 40]) f.push([phoff + 56 * i + o, o === 0 ? 4 : 8]);
  const shoff = Number(dv.getBigUint64(40, true));
  for (let i = 1; i < 3; i++) {
    for (const o of [4, 24, 32, 40, 56]) f.push([shoff + 64 * i + o, o === 4 || o === 40 ? 4 : 8]);
  }
  return f;
}

function mutateElf(base: Uint8Array, next: () => number): Uint8Array {
  let b = base.slice();
  const dv = new DataView(b.buffer);
  const fields = elfFields(base);
  const n = 1 + (next() % 3);
  for (let i = 0; i < n; i++) {
    const k = next() % 5;
    if (k === 0) {
      b = b.subarray(0, next() % (b.length + 1));
      break;
    }
    if (k === 1) {
      b[next() % b.length] = next() & 0xff;
      continue;
    }
    const [off, w] = fields[next() % fields.length];
    const v = edge64(next);
    if (w === 1) dv.setUint8(off, Number(v & 0xffn));
    else if (w === 2) dv.setUint16(off, Number(v & 0xffffn), true);
    else if (w === 4) dv.setUint32(off, Number(v & 0xffffffffn), true);
    else dv.setBigUint64(off, k === 4 ? BigInt(next() % 0x3000) : v, true);
  }
  return b;
}

/** Set section header `i` of a file whose table is at `shoff`. */
function setShdr(
  dv: DataView,
  shoff: number,
  i: number,
  f: { type: number; off: number; size: number; link: number; entsize: number },
): void {
  const s = shoff + 64 * i;
  dv.setUint32(s + 4, f.type, true);
  dv.setBigUint64(s + 24, BigInt(f.off), true);
  dv.setBigUint64(s + 32, BigInt(f.size), true);
  dv.setUint32(s + 40, f.link, true);
  dv.setBigUint64(s + 56, BigInt(f.entsize), true);
}

/**
 * Issue 13's construction: `sections` SHT_SYMTAB section headers that all describe one symbol table of
 * `symbols` named entries (so a parser that reads every SHT_SYMTAB, or resets its budget per section,
 * does sections * symbols work). The last section is the string table.
 */
function manySymtabs(sections: number, symbols: number): Uint8Array {
  const base = elf();
  const strtab = new TextEncoder().encode("\0tohost\0_start\0");
  const symOff = base.length;
  const strOff = symOff + symbols * 24;
  const shoff = (strOff + strtab.length + 7) & ~7;
  const shnum = sections + 2;
  const b = new Uint8Array(shoff + shnum * 64);
  b.set(base);
  const dv = new DataView(b.buffer);
  for (let k = 1; k < symbols; k++) {
    dv.setUint32(symOff + 24 * k, k % 2 === 0 ? 1 : 8, true);
    dv.setUint16(symOff + 24 * k + 6, 1, true);
    dv.setBigUint64(symOff + 24 * k + 8, BigInt(RAM_BASE + 0x1000), true);
  }
  b.set(strtab, strOff);
  dv.setBigUint64(40, BigInt(shoff), true);
  dv.setUint16(60, shnum, true);
  for (let i = 1; i <= sections; i++)
    setShdr(dv, shoff, i, { type: 2, off: symOff, size: symbols * 24, link: shnum - 1, entsize: 24 });
  setShdr(dv, shoff, shnum - 1, { type: 3, off: strOff, size: strtab.length, link: 0, entsize: 0 });
  return b;
}

/** `count` symbols, each naming a different offset of one `strSize`-byte string with a single NUL at its end. */
function quadraticStrtab(count: number, strSize: number): Uint8Array {
  const base = elf();
  const symOff = base.length;
  const strOff = symOff + count * 24;
  const b = new Uint8Array(strOff + strSize);
  b.set(base);
  const dv = new DataView(b.buffer);
  b.fill(0x41, strOff, strOff + strSize - 1);
  for (let k = 1; k < count; k++) {
    dv.setUint32(symOff + 24 * k, k, true);
    dv.setUint16(symOff + 24 * k + 6, 1, true);
  }
  const shoff = Number(dv.getBigUint64(40, true));
  dv.setBigUint64(shoff + 64 + 24, BigInt(symOff), true);
  dv.setBigUint64(shoff + 64 + 32, BigInt(count * 24), true);
  dv.setBigUint64(shoff + 128 + 24, BigInt(strOff), true);
  dv.setBigUint64(shoff + 128 + 32, BigInt(strSize), true);
  return b;
}

/**
 * `count` PT_LOAD segments that all cover the same `memSize` bytes at the start of RAM: a loader that
 * zeroes each segment's memory image does count * memSize work for a file of count * 56 bytes.
 */
function manySegments(count: number, memSize: number): Uint8Array {
  const base = elf();
  const phoff = base.length;
  const b = new Uint8Array(phoff + count * 56);
  b.set(base);
  const dv = new DataView(b.buffer);
  dv.setBigUint64(32, BigInt(phoff), true);
  dv.setUint16(56, count, true);
  for (let i = 0; i < count; i++) {
    const p = phoff + 56 * i;
    dv.setUint32(p, 1, true);
    dv.setUint32(p + 4, 6, true);
    dv.setBigUint64(p + 16, BigInt(RAM_BASE), true);
    dv.setBigUint64(p + 24, BigInt(RAM_BASE), true);
    dv.setBigUint64(p + 40, BigInt(memSize), true);
  }
  return b;
}

test("ELF: mutated files parse, load and flatten within their work budget, or fail with a one-line UserError", async () => {
  const next = prng(0x33);
  const base = elf();
  // The unmutated file is sane: it parses, loads and flattens.
  const img = parseCounted(base);
  assert.equal(img.symbols.get("tohost"), BigInt(RAM_BASE + 0x1000));
  const ram = new GuestRam(RAM_BASE, 1 << 20);
  loadElf(img, base, ram);
  assert.equal(flattenCounted(base).length, 0x1100);
  // Seeds: the valid file, and small versions of the hostile constructions (issue 13), mutated further.
  const seeds: Array<{ data: Uint8Array; runs: number; hostile: boolean }> = [
    { data: base, runs: 3000, hostile: false },
    { data: manySymtabs(300, 2000), runs: 150, hostile: false },
    { data: manySegments(500, 1 << 20), runs: 150, hostile: false },
    { data: quadraticStrtab(3000, 64 << 10), runs: 150, hostile: true },
  ];
  let ok = 0;
  let refused = 0;
  for (const [n, seed] of seeds.entries()) {
    for (let i = 0; i < seed.runs; i++) {
      const data = mutateElf(seed.data, next);
      const loaded = await userErrorOrOk(`seed ${n} elf #${i}`, () => {
        const image = parseCounted(data, seed.hostile);
        loadElf(image, data, ram);
        return flattenCounted(data, seed.hostile);
      });
      if (loaded) ok++;
      else refused++;
    }
  }
  assert.ok(ok > 100 && refused > 1000, `ok ${ok}, refused ${refused}`);
});

test("ELF: 65,533 SHT_SYMTAB headers (e_shnum 65,535) sharing one large symbol table cost one pass over it", () => {
  // 65,536 symbols (1.5 MiB) listed by 65,533 section headers (4 MiB). Reading each header's table, as
  // the gABI's one-symtab-per-file rule makes pointless, is 4 * 10^9 entry visits: a hang.
  const data = manySymtabs(65_533, 65_536);
  const budget = new WorkBudget(Number.POSITIVE_INFINITY, () => new Error("unreachable"));
  const img = parseElf(data, { budget });
  assert.equal(img.symbols.get("tohost"), BigInt(RAM_BASE + 0x1000));
  // Header tables once, the symbol table once, each name once: linear in the file.
  assert.ok(budget.spent <= 2 * data.length, `${budget.spent} units for a ${data.length}-byte file`);
});

test("ELF: 65,535 PT_LOAD segments over the same RAM are refused before any of them is zeroed", async () => {
  const data = manySegments(65_535 - 2, 16 << 20);
  const ram = new GuestRam(RAM_BASE, 16 << 20);
  ram.u8.fill(0xee);
  let image: ElfImage | undefined;
  assert.equal(await userErrorOrOk("many segments", () => (image = parseCounted(data))), false);
  assert.equal(image, undefined);
  assert.throws(() => parseElf(data), /segments at 0x80000000 .* overlap/);
  assert.equal(ram.u8[0], 0xee);
});

test("ELF: every truncation of a valid file is a UserError (or still loads when only the tail is cut)", async () => {
  const base = elf();
  for (let len = 0; len < base.length; len++) {
    await userErrorOrOk(`truncated to ${len}`, () => parseElf(base.subarray(0, len)));
  }
});

test("ELF: overlapping, overflowing and out-of-RAM segments are refused before anything is written", async () => {
  const ram = new GuestRam(RAM_BASE, 1 << 20);
  const cases: Array<[number, bigint, bigint]> = [
    // [phdr index, p_paddr, p_memsz]
    [1, BigInt(RAM_BASE + (1 << 20) - 8), 0x100n], // runs off the end of RAM
    [1, BigInt(RAM_BASE - 0x10), 0x100n], // starts below RAM
    [1, BigInt(Number.MAX_SAFE_INTEGER - 0x10), 0x100n], // paddr + memsz past 2^53
    [1, (1n << 53n) - 1n, (1n << 53n) - 1n],
    [0, 0n, 0x40n],
  ];
  for (const [i, paddr, memsz] of cases) {
    const b = elf();
    const dv = new DataView(b.buffer);
    dv.setBigUint64(64 + 56 * i + 24, paddr, true);
    dv.setBigUint64(64 + 56 * i + 40, memsz, true);
    ram.u8.fill(0xee);
    const loaded = await userErrorOrOk(`paddr 0x${paddr.toString(16)}`, () => loadElf(parseElf(b), b, ram));
    assert.equal(loaded, false, `paddr 0x${paddr.toString(16)} memsz 0x${memsz.toString(16)} loaded`);
    assert.ok(
      ram.u8.every((x) => x === 0xee),
      "nothing written",
    );
    assert.equal(await userErrorOrOk("bios", () => flattenFirmware(b, RAM_BASE, 1 << 20)), false, "bios");
  }
  // p_filesz > p_memsz, and a segment whose file range runs past the file.
  const b = elf();
  const dv = new DataView(b.buffer);
  dv.setBigUint64(64 + 32, 0x1000n, true);
  assert.equal(await userErrorOrOk("filesz", () => parseElf(b)), false, "filesz > memsz");
  dv.setBigUint64(64 + 40, 0x2000n, true);
  assert.equal(await userErrorOrOk("file range", () => parseElf(b)), false, "file range");
});

test("ELF: a string table built to make symbol-name scans quadratic is refused within the work budget", async () => {
  // 60 000 symbols, each naming a different offset of one 2 MiB string with a single NUL at its end:
  // scanning every name is 60 000 * 1 MiB on average, 6 * 10^10 bytes.
  const b = quadraticStrtab(60_000, 2 << 20);
  assert.equal(await userErrorOrOk("quadratic strtab", () => parseCounted(b, true)), false);
  // The parser's own budget refuses it too, with a message in words.
  assert.throws(() => parseElf(b), /corrupt ELF file: .*need more than \d+ bytes of reading/);
});

// ---------------- boot layout and VM options ----------------

test("boot layout: random sizes either fit without overlap inside RAM or give a one-line UserError", async () => {
  const next = prng(0x44);
  const sizes = [0, 1, 4096, 2 << 20, 16 << 20, 255 << 20, 2 ** 31, 2 ** 40, Number.MAX_SAFE_INTEGER];
  const pick = () => (next() % 2 === 0 ? sizes[next() % sizes.length] : next() % (64 << 20));
  for (let i = 0; i < 2000; i++) {
    const ramSize = [16 << 20, 32 << 20, 256 << 20, 2 ** 34][next() % 4];
    const p = {
      ramBase: RAM_BASE,
      ramSize,
      kernelSize: next() % 4 === 0 ? undefined : pick(),
      initrdSize: pick(),
      fdtSize: 1 + (next() % 65536),
      firmwareSize: next() % 2 === 0 ? undefined : pick(),
    };
    let layout: ReturnType<typeof planBootLayout> | undefined;
    if (await userErrorOrOk(`layout ${JSON.stringify(p)}`, () => (layout = planBootLayout(p)))) {
      assert.ok(layout);
      const end = RAM_BASE + ramSize;
      const kEnd = layout.kernelAddr + (p.kernelSize ?? 0);
      assert.ok(RAM_BASE + (p.firmwareSize ?? 0) <= layout.kernelAddr, JSON.stringify(p));
      assert.ok(kEnd <= layout.initrdAddr, JSON.stringify(p));
      assert.ok(layout.initrdAddr + p.initrdSize <= layout.fdtAddr, JSON.stringify(p));
      assert.ok(layout.fdtAddr + p.fdtSize <= end, JSON.stringify(p));
    }
  }
});

test("--mem, --cpus and --disk: random strings parse to valid values or give one-line UserErrors", async () => {
  const next = prng(0x55);
  const alphabet = "0123456789.,=kKmMgGiBb -+eExX_/onfaqcowrdly\u00e9\u0000";
  const rand = (n: number) => Array.from({ length: n }, () => alphabet[next() % alphabet.length]).join("");
  const samples = [
    "",
    " ",
    "0",
    "16M",
    "16.5M",
    "1e3",
    "-1G",
    "99999999999999999999G",
    "0x100M",
    "NaN",
    "Infinity",
    "1.5",
    "17179869184K",
    "8",
    "08",
    "9",
    "1,format=raw",
    "a.img,readonly",
    "a.img,format=qcow2,readonly=off",
    ",",
    "a,=",
    "a,format=",
    "a,readonly=maybe",
  ];
  for (let i = 0; i < 3000; i++) samples.push(rand(1 + (next() % 12)));
  for (const s of samples) {
    if (await userErrorOrOk(`--mem ${JSON.stringify(s)}`, () => parseMemSize(s))) {
      const v = parseMemSize(s);
      assert.ok(
        Number.isSafeInteger(v) && v >= 16 << 20 && v <= 16 * 2 ** 30 && v % 4096 === 0,
        `${s} -> ${v}`,
      );
    }
    if (await userErrorOrOk(`--cpus ${JSON.stringify(s)}`, () => parseCpus(s))) {
      const v = parseCpus(s);
      assert.ok(Number.isInteger(v) && v >= 1 && v <= 8, `${s} -> ${v}`);
    }
    if (await userErrorOrOk(`--disk ${JSON.stringify(s)}`, () => parseDiskSpec(s))) {
      const d = parseDiskSpec(s);
      assert.ok(d.path.length > 0 && (d.format === undefined || d.format === "raw" || d.format === "qcow2"));
    }
  }
});

test("board options: bad hart counts are UserErrors", async () => {
  const con: CharBackend = { write: () => {}, onInput: () => {} };
  const clock = { nowNs: () => 0, wallNs: () => 0 };
  for (const harts of [0, -1, 9, 1.5, Number.NaN, 2 ** 40]) {
    const ok = await userErrorOrOk(
      `harts ${harts}`,
      () => new RiscvVirt({ ramBytes: 1 << 20, harts, firmware: "builtin", clock, console: con }),
    );
    assert.equal(ok, false);
  }
});
