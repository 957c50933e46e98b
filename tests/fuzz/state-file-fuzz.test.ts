/**
 * State files are untrusted input. A real state file (a machine with two harts, a disk, a NIC, a virtio
 * console and rng, its queues live and RAM holding data) is truncated at every section boundary and at
 * random points, bit-flipped, and mutated field by field with its checksums recomputed, so the
 * validation behind them is exercised too. Each restore must end in a clean one-line error or in a
 * machine that then runs a bounded number of steps without a crash. Nothing depends on wall time.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { UserError } from "../../src/base/errors.js";
import type { CharBackend } from "../../src/io/char-backend.js";
import type { RiscvVirt } from "../../src/machine/riscv-virt.js";
import { NetHub } from "../../src/net/hub.js";
import { createNodeHost } from "../../src/vmm/node/node-host.js";
import { readStateFileHeader, restoreVmFromFile, saveVmToFile } from "../../src/vmm/node/state-file.js";
import { crc32 } from "../../src/vmm/state-file/crc32.js";
import { StateFileError } from "../../src/vmm/state-file/errors.js";
import { SECTION_COMPONENT, SECTION_END, SECTION_HEADER } from "../../src/vmm/state-file/format.js";
import { VirtualMachine } from "../../src/vmm/vm.js";
import type { VmSpecInput } from "../../src/vmm/vm-spec.js";

const dir = mkdtempSync(join(tmpdir(), "tvisor-state-fuzz-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const nullConsole: CharBackend = { write: () => {}, onInput: () => {} };
const hub = new NetHub();
const port = hub.port();
const host = createNodeHost(nullConsole);

/** A header-only RISC-V Image (Linux boot.rst) whose code is `j .`. */
function tinyImage(): Uint8Array {
  const b = new Uint8Array(4096);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, 0x0000006f, true);
  dv.setBigUint64(8, 0x200000n, true);
  dv.setBigUint64(16, 0x10000n, true);
  dv.setBigUint64(48, 0x5643534952n, true);
  dv.setUint32(56, 0x05435352, true);
  return b;
}

const kernel = join(dir, "Image");
writeFileSync(kernel, tinyImage());
const diskPath = join(dir, "disk.img");
writeFileSync(diskPath, new Uint8Array(1 << 20).fill(0x5a));

const MEM = 32 << 20;
const spec: VmSpecInput = {
  kernel,
  memBytes: MEM,
  cpus: 2,
  // Read-only, so no mutated machine can change the image and make later restores "incompatible".
  disks: [{ path: diskPath, format: "raw", readOnly: true }],
  nics: [{}],
  console: "virtio",
  rng: true,
};

const VIRTIO_BASE = 0x10001000;
const RAM = 0x80000000;

/** Drive a virtio-mmio slot as a driver would, up to DRIVER_OK with queue 0 live in RAM. */
function bringUpVirtio(m: RiscvVirt, slot: number, rings: number): void {
  const base = VIRTIO_BASE + slot * 0x1000;
  const w = (off: number, v: number) => m.bus.write(base + off, 4, v);
  w(0x070, 1);
  w(0x070, 3);
  w(0x024, 1);
  w(0x020, 1); // VIRTIO_F_VERSION_1 (bit 32)
  w(0x070, 0xb);
  w(0x030, 0);
  w(0x038, 8);
  w(0x080, rings);
  w(0x084, 0);
  w(0x090, rings + 0x100);
  w(0x094, 0);
  w(0x0a0, rings + 0x200);
  w(0x0a4, 0);
  w(0x044, 1);
  w(0x070, 0xf);
}

/** Build, run briefly and poke a machine so its saved state has live devices and data in RAM. */
async function makeStateFile(path: string): Promise<VirtualMachine> {
  const vm = new VirtualMachine(spec, host, { nics: [port] });
  await vm.prepare();
  const m = vm.machine!;
  for (let slot = 0; slot < m.transports.length; slot++)
    bringUpVirtio(m, slot, RAM + 0x400000 + slot * 0x1000);
  m.bus.write(0x0c000000 + 4 * 10, 4, 5); // PLIC priority of the UART's source
  m.bus.write(0x10000000 + 1, 1, 1); // UART IER: receive interrupts
  m.bus.write(0x10000000 + 7, 1, 0x42); // UART scratch
  m.harts[1].stopped = false;
  m.harts[1].pc = RAM + 0x200000;
  for (let i = 0; i < 3; i++) for (const h of m.harts) if (!h.stopped) h.run(5_000);
  // RAM: a text page, a page of pseudo-random bytes (incompressible) and a page at the very end.
  m.ram.write(RAM + 0x500000, new TextEncoder().encode("hello from before the save\n".repeat(100)));
  let x = 12345;
  m.ram.write(
    RAM + 0x600000,
    Uint8Array.from({ length: 8192 }, () => {
      x = (x * 1103515245 + 12345) >>> 0;
      return x >>> 24;
    }),
  );
  m.ram.write(RAM + MEM - 4096, new Uint8Array(4096).fill(0xee));
  await saveVmToFile(vm, path);
  return vm;
}

/** Sections of a state file: [offset of the section header, type, payload length]. */
function sections(file: Uint8Array): Array<[number, number, number]> {
  const out: Array<[number, number, number]> = [];
  const dv = new DataView(file.buffer, file.byteOffset, file.byteLength);
  for (let at = 16; at < file.length; ) {
    const len = dv.getUint32(at + 8, true);
    out.push([at, dv.getUint32(at, true), len]);
    at += 16 + len;
  }
  return out;
}

/** Rebuild a file with one section's payload replaced, its CRC and the END section's chain CRC recomputed. */
function replaceSection(file: Uint8Array, index: number, payload: Uint8Array): Uint8Array {
  const parts: Uint8Array[] = [file.subarray(0, 16)];
  let chain = 0;
  for (const [i, [at, type, len]] of sections(file).entries()) {
    let body = i === index ? payload : file.subarray(at + 16, at + 16 + len);
    if (type === SECTION_END) {
      body = body.slice();
      new DataView(body.buffer).setUint32(16, chain, true);
    }
    const head = new Uint8Array(16);
    const dv = new DataView(head.buffer);
    dv.setUint32(0, type, true);
    dv.setUint32(8, body.length, true);
    const crc = crc32(body);
    dv.setUint32(12, crc, true);
    const c = new Uint8Array(4);
    new DataView(c.buffer).setUint32(0, crc, true);
    chain = crc32(c, chain);
    parts.push(head, body);
  }
  return Buffer.concat(parts);
}

/** Run a restored machine for a bounded number of instructions; it must not throw. */
function runBounded(m: RiscvVirt): void {
  for (let round = 0; round < 4; round++) {
    for (const h of m.harts) if (!h.stopped) h.run(2_000);
    m.clint.update();
    m.rtc.update();
  }
  // Device registers keep answering.
  for (let slot = 0; slot < m.transports.length; slot++) m.bus.read(VIRTIO_BASE + slot * 0x1000 + 0x070, 4);
  m.bus.read(0x10000000 + 5, 1);
}

/** Restore `bytes`: either a clean one-line error, or a machine that runs. Returns which. */
async function tryRestore(bytes: Uint8Array, what: string): Promise<"error" | "ok"> {
  const p = join(dir, "mutant.tvstate");
  writeFileSync(p, bytes);
  let vm: VirtualMachine;
  try {
    vm = await restoreVmFromFile(p, host, { attachments: { nics: [port] } });
  } catch (e) {
    assert.ok(e instanceof UserError, `${what}: not a UserError: ${(e as Error)?.stack ?? e}`);
    assert.doesNotMatch(e.message, /\n/, `${what}: multi-line message`);
    return "error";
  }
  try {
    runBounded(vm.machine!);
  } finally {
    await vm.close();
  }
  return "ok";
}

const original = join(dir, "vm.tvstate");
let source: VirtualMachine;
let file: Uint8Array;

test("a saved machine restores with identical components and RAM", async () => {
  source = await makeStateFile(original);
  file = new Uint8Array(readFileSync(original));
  const header = await readStateFileHeader(original);
  assert.equal(header.spec.cpus, 2);
  assert.equal(header.disks[0].path, diskPath);
  assert.equal(header.disks[0].fileSize, 1 << 20);
  const vm = await restoreVmFromFile(original, host, { attachments: { nics: [port] } });
  try {
    const a = source.machine!;
    const b = vm.machine!;
    // mtime follows the host clock between save and restore; everything else is as saved.
    const withoutMtime = (m: RiscvVirt) =>
      m.saveComponents().map(([n, st]) => [n, n === "clint" ? { ...st, mtime: 0 } : st]);
    assert.deepEqual(withoutMtime(b), withoutMtime(a));
    assert.ok(Buffer.from(a.ram.u8).equals(Buffer.from(b.ram.u8)), "RAM differs after restore");
    // Zero pages were skipped: the file is far smaller than the 16 MiB of RAM.
    assert.ok(file.length < 1 << 20, `state file is ${file.length} bytes`);
    runBounded(b);
  } finally {
    await vm.close();
  }
});

test("truncated at every section boundary and at random points: a clean 'truncated' error", async () => {
  const cuts = new Set<number>([0, 1, 8, 15, 16, 17, file.length - 1]);
  for (const [at, , len] of sections(file))
    for (const d of [-1, 0, 1, 15, 16, 17]) cuts.add(at + d + (d > 15 ? len : 0));
  let seed = 7;
  for (let i = 0; i < 40; i++) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    cuts.add(seed % file.length);
  }
  for (const n of cuts) {
    if (n < 0 || n >= file.length) continue;
    const p = join(dir, "cut.tvstate");
    writeFileSync(p, file.subarray(0, n));
    await assert.rejects(
      restoreVmFromFile(p, host, { attachments: { nics: [port] } }),
      (e: unknown) =>
        e instanceof StateFileError &&
        /^state file is (truncated|corrupt)/.test(e.message) &&
        !/\n/.test(e.message),
      `cut at ${n}`,
    );
  }
});

test("single bit flips anywhere are refused with a one-line error", async () => {
  let seed = 99;
  for (let i = 0; i < 150; i++) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    const bit = seed % (file.length * 8);
    const b = file.slice();
    b[bit >> 3] ^= 1 << (bit & 7);
    assert.equal(await tryRestore(b, `flip bit ${bit}`), "error", `bit ${bit} flipped was accepted`);
  }
});

/** Interesting replacement values for a leaf. */
const NASTY: unknown[] = [
  -1,
  0,
  1,
  2,
  7,
  255,
  256,
  65535,
  65536,
  2 ** 31,
  -(2 ** 31) - 1,
  2 ** 32,
  2 ** 53,
  -(2 ** 53),
  1.5,
  1e300,
  null,
  true,
  false,
  "",
  "x",
  [],
  {},
  [1, 2],
  { $typed: "u8", base64: "AAAA" },
  { $typed: "i32", base64: "AA==" },
  { $typed: "f64", base64: "AAAAAAAAAAA=" },
  { $typed: "u8", base64: "!!!!" },
  { $typed: "u32", base64: "" },
];

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Every path to a value inside a JSON document. */
function paths(v: Json, at: Array<string | number> = [], out: Array<Array<string | number>> = []) {
  out.push(at);
  if (Array.isArray(v)) for (const [i, x] of v.entries()) paths(x, [...at, i], out);
  else if (v !== null && typeof v === "object" && !("$typed" in v))
    for (const [k, x] of Object.entries(v)) paths(x, [...at, k], out);
  return out;
}

function mutate(doc: Json, path: Array<string | number>, rnd: () => number): Json {
  if (path.length === 0) return NASTY[rnd() % NASTY.length] as Json;
  const copy = structuredClone(doc) as { [k: string]: Json };
  let parent: { [k: string]: Json } = copy;
  for (const k of path.slice(0, -1)) parent = parent[k] as { [k: string]: Json };
  const last = path[path.length - 1];
  const op = rnd() % 8;
  if (op === 0 && !Array.isArray(parent)) delete parent[last];
  else if (op === 1 && !Array.isArray(parent)) parent.extraField = 1;
  else if (op === 2 && typeof parent[last] === "number") parent[last] = (parent[last] as number) + 1;
  else parent[last] = NASTY[rnd() % NASTY.length] as Json;
  return copy;
}

test("field-level mutations with valid checksums: a clean error or a machine that runs", async () => {
  const list = sections(file);
  const jsonSections = list
    .map(([at, type, len], i) => ({ i, type, body: file.subarray(at + 16, at + 16 + len) }))
    .filter((s) => s.type === SECTION_HEADER || s.type === SECTION_COMPONENT);
  let seed = 2024;
  const rnd = () => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed >>> 8;
  };
  const outcomes = { error: 0, ok: 0 };
  for (let n = 0; n < 400; n++) {
    const s = jsonSections[rnd() % jsonSections.length];
    const doc = JSON.parse(new TextDecoder().decode(s.body)) as Json;
    const all = paths(doc);
    const path = all[rnd() % all.length];
    const mutated = mutate(doc, path, rnd);
    const payload = new TextEncoder().encode(JSON.stringify(mutated));
    const what = `section ${s.i} path ${path.join(".")}`;
    outcomes[await tryRestore(replaceSection(file, s.i, payload), what)]++;
  }
  // Most mutations must be caught by validation; some (a register's value) are legal machines.
  assert.ok(outcomes.error > 200, JSON.stringify(outcomes));
  assert.ok(outcomes.ok > 0, JSON.stringify(outcomes));
});

test("a failed restore changes nothing: the state file and the disk are untouched", async () => {
  const before = statSync(diskPath);
  const bad = file.slice();
  bad[bad.length - 3] ^= 0xff;
  await tryRestore(bad, "flipped end");
  assert.ok(Buffer.from(readFileSync(original)).equals(Buffer.from(file)));
  assert.equal(statSync(diskPath).mtimeMs, before.mtimeMs);
  await source.close();
});
