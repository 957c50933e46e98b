/** The migration stream's messages: round trips, and hostile bytes refused before anything is written. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { MigrationError } from "./errors.js";
import {
  applyRam,
  ComponentBlob,
  DISK_CHUNK,
  DISK_HEADER_BYTES,
  decodeDisk,
  decodeEnd,
  decodeMessage,
  encodeComponentFragments,
  encodeDisk,
  encodeEnd,
  encodeMessage,
  encodeRam,
  MAX_MESSAGE_BYTES,
  MIGRATION_MAGIC,
  MSG_DISK,
  MSG_HELLO,
  MSG_RAM,
  PAGE_SIZE,
  parseHello,
} from "./protocol.js";

function ramOf(pages: number): Uint8Array {
  const r = new Uint8Array(pages * PAGE_SIZE);
  for (let p = 0; p < pages; p++) r.fill(p + 1, p * PAGE_SIZE, p * PAGE_SIZE + 100);
  return r;
}

function apply(msg: Uint8Array, pages: number) {
  const writes: Array<[number, number | null]> = [];
  applyRam(decodeMessage(msg).payload, pages, (p, d) => writes.push([p, d === null ? null : d[0]]));
  return writes;
}

test("RAM messages round-trip: data pages and zero entries, in order", () => {
  const ram = ramOf(8);
  const msg = encodeRam(ram, [3, 5, 7], [false, true, false]);
  assert.ok(msg.length < MAX_MESSAGE_BYTES);
  assert.deepEqual(apply(msg, 8), [
    [3, 4],
    [5, null],
    [7, 8],
  ]);
});

test("a flipped bit, another version, an unknown type or an oversized message is refused", () => {
  const msg = encodeRam(ramOf(4), [1], [false]);
  const flipped = msg.slice();
  flipped[100] ^= 1;
  assert.throws(() => decodeMessage(flipped), /checksum mismatch/);
  const v2 = msg.slice();
  v2[1] = 2;
  assert.throws(() => decodeMessage(v2), /format version 2/);
  const t9 = msg.slice();
  t9[0] = 9;
  assert.throws(() => decodeMessage(t9), /unknown message type 9/);
  assert.throws(() => decodeMessage(new Uint8Array(3)), MigrationError);
  assert.throws(() => decodeMessage(new Uint8Array(MAX_MESSAGE_BYTES + 1)), /limit/);
});

test("RAM entries beyond RAM, wrong lengths and too many data pages write nothing", () => {
  const ram = ramOf(40);
  // Valid for 40 pages, not for 4: nothing at all may be written (the check comes first).
  const far = encodeRam(ram, [0, 39], [false, false]);
  const writes: number[] = [];
  assert.throws(
    () => applyRam(decodeMessage(far).payload, 4, (p) => writes.push(p)),
    /page 39 is beyond RAM/,
  );
  assert.deepEqual(writes, []);
  const short = decodeMessage(encodeRam(ram, [1, 2], [false, false])).payload.slice(0, -1);
  assert.throws(() => applyRam(short, 40, () => {}), /bytes for 2 pages/);
  const many = encodeRam(
    ram,
    Array.from({ length: 16 }, (_, i) => i),
    Array.from({ length: 16 }, () => false),
  ).subarray(8);
  assert.throws(() => applyRam(many, 40, () => {}), /16 pages of data/);
  const zeroCount = new Uint8Array(4);
  assert.throws(() => applyRam(zeroCount, 40, () => {}), /0 entries/);
});

test("component fragments reassemble only in order and within the stated total", () => {
  const blob = Uint8Array.from({ length: 150_000 }, (_, i) => i & 0xff);
  const frags = encodeComponentFragments(blob);
  assert.ok(frags.length >= 3);
  const b = new ComponentBlob();
  for (const f of frags) b.add(decodeMessage(f).payload);
  assert.deepEqual(b.done(), blob);
  const out = new ComponentBlob();
  assert.throws(() => out.add(decodeMessage(frags[1]).payload), /offset 61440, expected 0/);
  const partial = new ComponentBlob();
  partial.add(decodeMessage(frags[0]).payload);
  assert.throws(() => partial.done(), /incomplete/);
  const huge = new Uint8Array(8);
  new DataView(huge.buffer).setUint32(0, 0xffffffff, true);
  assert.throws(() => new ComponentBlob().add(huge), /limit/);
});

test("END counts round-trip; HELLO is checked field by field", () => {
  const c = { rounds: 3, ramMessages: 10, pages: 99, componentBytes: 1234, diskMessages: 7 };
  assert.deepEqual(decodeEnd(decodeMessage(encodeEnd(c)).payload), c);
  const hello = {
    magic: MIGRATION_MAGIC,
    version: 1,
    tvisor: "x",
    arch: "riscv64",
    machine: "riscv-virt",
    name: "vm",
    definition: {},
    ramBytes: 1 << 20,
    components: ["board", "hart0"],
    disks: [{ path: "/d", format: "raw", virtualSize: 512 }],
  };
  const enc = (o: unknown) => new TextEncoder().encode(JSON.stringify(o));
  assert.equal(parseHello(enc(hello)).name, "vm");
  assert.throws(() => parseHello(enc({ ...hello, extra: 1 })), /unknown field "extra"/);
  assert.throws(() => parseHello(enc({ ...hello, magic: "x" })), /not a tvisor migration/);
  assert.throws(() => parseHello(enc({ ...hello, ramBytes: 4097 })), /multiple of 4096/);
  assert.throws(() => parseHello(enc({ ...hello, components: ["../x"] })), /component name/);
  assert.throws(() => parseHello(enc({ ...hello, disks: [{ path: "/d" }] })), /a disk must be/);
  assert.throws(() => parseHello(new Uint8Array([0xff])), /not valid JSON/);
  assert.equal(parseHello(enc({ ...hello, copyStorage: true })).copyStorage, true);
  assert.throws(() => parseHello(enc({ ...hello, copyStorage: "yes" })), /copyStorage must be a boolean/);
  const vmdk = { ...hello, copyStorage: true, disks: [{ path: "/d", format: "vmdk", virtualSize: 512 }] };
  assert.throws(() => parseHello(enc(vmdk)), /a copied disk cannot be "vmdk"/);
  assert.equal(decodeMessage(encodeMessage(MSG_HELLO, enc(hello))).type, MSG_HELLO);
  assert.notEqual(MSG_RAM, MSG_HELLO);
});

test("DISK messages round-trip; a range off its disk, an unknown disk or a wrong length writes nothing", () => {
  const sizes = [1 << 20, 100_000];
  const data = new Uint8Array(DISK_CHUNK).fill(7);
  const m = decodeMessage(encodeDisk(0, 3 * DISK_CHUNK, data, data.length));
  assert.equal(m.type, MSG_DISK);
  assert.ok(encodeDisk(0, 0, data, data.length).length <= MAX_MESSAGE_BYTES);
  const r = decodeDisk(m.payload, sizes);
  assert.deepEqual([r.index, r.offset, r.length, r.data?.[0]], [0, 3 * DISK_CHUNK, DISK_CHUNK, 7]);
  // A zero range carries no bytes; the last, short chunk of a disk whose size is no multiple of it.
  const z = decodeDisk(decodeMessage(encodeDisk(1, 98_304, null, 1696)).payload, sizes);
  assert.deepEqual([z.index, z.offset, z.length, z.data], [1, 98_304, 1696, null]);
  const bad = (p: Uint8Array, re: RegExp) => assert.throws(() => decodeDisk(p, sizes), re);
  bad(decodeMessage(encodeDisk(2, 0, data, data.length)).payload, /disk 2 does not exist/);
  bad(decodeMessage(encodeDisk(1, 98_304, null, 1697)).payload, /beyond disk 1/);
  bad(decodeMessage(encodeDisk(0, 2 ** 52, null, 512)).payload, /beyond disk 0/);
  bad(decodeMessage(encodeDisk(0, 0, null, DISK_CHUNK + 1)).payload, /a range of/);
  const p = decodeMessage(encodeDisk(0, 0, data, data.length)).payload;
  bad(p.subarray(0, p.length - 1), /bytes for/);
  const flagged = p.slice();
  new DataView(flagged.buffer).setUint32(4, 2, true);
  bad(flagged, /unknown flags/);
  bad(p.subarray(0, DISK_HEADER_BYTES - 1), /too short/);
});
