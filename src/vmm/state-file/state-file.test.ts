/** The state-file sections in memory: round trip, zero pages skipped, and damaged input refused. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { deflateRawSync, inflateRawSync } from "node:zlib";
import { validateVmSpec } from "../vm-spec.js";
import { decodeState, encodeState, fromBase64, toBase64 } from "./codec.js";
import { StateFileError } from "./errors.js";
import { type ChunkCompression, PAGE_SIZE, type StateFileHeader } from "./format.js";
import { StateFileReader } from "./reader.js";
import { StateFileWriter } from "./writer.js";

const zlib: ChunkCompression = {
  deflate: async (d) => new Uint8Array(deflateRawSync(d)),
  inflate: async (d, max) => new Uint8Array(inflateRawSync(d, { maxOutputLength: max })),
};

function memorySink() {
  const parts: Uint8Array[] = [];
  return {
    sink: { write: async (d: Uint8Array) => void parts.push(d.slice()) },
    bytes: () => new Uint8Array(Buffer.concat(parts)),
  };
}

function memorySource(b: Uint8Array) {
  let at = 0;
  return {
    read: async (n: number) => {
      const out = b.subarray(at, Math.min(b.length, at + n));
      at += out.length;
      return out;
    },
  };
}

const header: StateFileHeader = {
  tvisor: "test",
  arch: "riscv64",
  machine: "riscv-virt",
  createdAt: "2026-01-01T00:00:00.000Z",
  spec: validateVmSpec({ kernel: "Image", memBytes: 16 << 20, rng: false }),
  ramBytes: 16 << 20,
  pageSize: PAGE_SIZE,
  chunkPages: 256,
  components: ["a", "b"],
  disks: [],
};

async function write(ram: Uint8Array): Promise<Uint8Array> {
  const m = memorySink();
  const w = new StateFileWriter(m.sink, zlib);
  await w.begin(header);
  await w.component("a", { kind: "a", version: 1, x: Int32Array.of(-1, 2), n: 5 });
  await w.component("b", {
    kind: "b",
    version: 2,
    bytes: Uint8Array.of(1, 2, 3),
    nested: { f: Float64Array.of(0.5) },
  });
  await w.ram(ram);
  const stats = await w.end();
  assert.equal(stats.bytes, m.bytes().length);
  return m.bytes();
}

async function read(file: Uint8Array) {
  const r = new StateFileReader(memorySource(file), zlib);
  const h = await r.header();
  const ram = new Uint8Array(h.ramBytes);
  const target = { size: ram.length, write: (off: number, d: Uint8Array) => ram.set(d, off) };
  // Version 2 (pre-copy): RAM before the components.
  if (r.precopy) await r.ram(target);
  const parts = await r.components(h.components);
  if (!r.precopy) await r.ram(target);
  await r.end();
  return { h, parts, ram, version: r.version };
}

/**
 * A pre-copy stream as a snapshot of a running guest writes it: every non-empty 1 MiB chunk, then the
 * guest "runs" (`change`), then only ranges of what changed are written again, then the components.
 */
async function writePrecopy(ram: Uint8Array, change: () => [number, number][]): Promise<Uint8Array> {
  const m = memorySink();
  const w = new StateFileWriter(m.sink, zlib);
  await w.begin(header, 2);
  const pages = ram.length / PAGE_SIZE;
  for (let first = 0; first < pages; first += 256) await w.ramRange(ram, first, 256, true);
  for (const [first, count] of change()) await w.ramRange(ram, first, count, false);
  await w.component("a", { kind: "a", version: 1, x: Int32Array.of(3), n: 1 });
  await w.component("b", { kind: "b", version: 1 });
  await w.end();
  return m.bytes();
}

test("codec: typed arrays, nesting and base64 round trip; malformed input is refused", () => {
  for (const n of [0, 1, 2, 3, 4, 5, 255, 1000, 3 * 8192, 3 * 8192 + 1, 100000]) {
    const b = Uint8Array.from({ length: n }, (_, i) => (i * 37) & 0xff);
    assert.deepEqual(fromBase64(toBase64(b)), b);
    assert.equal(toBase64(b), Buffer.from(b).toString("base64"));
  }
  assert.equal(fromBase64("abc"), null);
  assert.equal(fromBase64("a=bc"), null);
  const v = { kind: "k", version: 1, a: Uint32Array.of(0xffffffff), b: [Int32Array.of(-5), null, "s", true] };
  assert.deepEqual(decodeState(encodeState(v), "t"), v);
  for (const bad of [
    '{"$typed":"u16","base64":""}',
    '{"$typed":"i32","base64":"AAA="}',
    '{"__proto__":{}}',
    "[",
    "\u00ff",
  ]) {
    assert.throws(() => decodeState(new TextEncoder().encode(bad), "t"), StateFileError, bad);
  }
  const deep = `${"[".repeat(100000)}${"]".repeat(100000)}`;
  assert.throws(() => decodeState(new TextEncoder().encode(deep), "t"), StateFileError);
});

test("sections round trip; zero pages are not stored", async () => {
  const ram = new Uint8Array(16 << 20);
  ram.fill(7, 0, 100);
  ram.fill(9, 5 * PAGE_SIZE, 6 * PAGE_SIZE);
  ram.fill(1, ram.length - 10);
  const file = await write(ram);
  assert.ok(file.length < 8192, `${file.length} bytes for three non-zero pages`);
  const got = await read(file);
  assert.deepEqual(got.h, header);
  assert.deepEqual(got.parts.get("a"), { kind: "a", version: 1, x: Int32Array.of(-1, 2), n: 5 });
  assert.ok(Buffer.from(got.ram).equals(Buffer.from(ram)));
});

test("every truncation and every bit flip is a StateFileError", async () => {
  const ram = new Uint8Array(16 << 20);
  for (let i = 0; i < ram.length; i += 65536) ram[i] = i >>> 16;
  const file = await write(ram);
  for (let n = 0; n < file.length; n++) {
    await assert.rejects(read(file.subarray(0, n)), StateFileError, `truncated to ${n}`);
  }
  for (let bit = 0; bit < file.length * 8; bit += 7) {
    const b = file.slice();
    b[bit >> 3] ^= 1 << (bit & 7);
    await assert.rejects(read(b), StateFileError, `bit ${bit}`);
  }
  const longer = new Uint8Array(file.length + 1);
  longer.set(file);
  await assert.rejects(read(longer), /data after the end section/);
});

test("a pre-copy stream: later chunks replace earlier ones, pages that became zero read as zero", async () => {
  const ram = new Uint8Array(16 << 20);
  for (let p = 0; p < 600; p += 3) ram.fill(p & 0xff || 1, p * PAGE_SIZE, p * PAGE_SIZE + 64);
  const file = await writePrecopy(ram, () => {
    // The "guest" writes: page 3 zeroed, page 4 filled, page 2000 (in a chunk never stored) filled.
    ram.fill(0, 3 * PAGE_SIZE, 4 * PAGE_SIZE);
    ram.fill(0xaa, 4 * PAGE_SIZE, 5 * PAGE_SIZE);
    ram.fill(0x55, 2000 * PAGE_SIZE, 2000 * PAGE_SIZE + 10);
    return [
      [3, 2],
      [2000, 1],
    ];
  });
  const got = await read(file);
  assert.equal(got.version, 2);
  assert.deepEqual(got.parts.get("a"), { kind: "a", version: 1, x: Int32Array.of(3), n: 1 });
  assert.ok(Buffer.from(got.ram).equals(Buffer.from(ram)), "the restored RAM is the final RAM");
  // Each truncation of the stream is refused.
  for (let n = 0; n < file.length; n += 97)
    await assert.rejects(read(file.subarray(0, n)), StateFileError, `truncated to ${n}`);
});

test("a pre-copy stream refuses RAM after the components and ranges beyond RAM", async () => {
  const m = memorySink();
  const w = new StateFileWriter(m.sink, zlib);
  await w.begin(header, 2);
  const ram = new Uint8Array(16 << 20);
  await assert.rejects(w.ramRange(ram, 4095, 2, false), /not a chunk/);
  await assert.rejects(w.ramRange(ram, 0, 257, false), /not a chunk/);
  await w.component("a", { kind: "a", version: 1 });
  await assert.rejects(w.ramRange(ram, 0, 1, false), /outside a pre-copy stream's RAM part/);
  await assert.rejects(w.ram(ram), /pre-copy stream/);
});
