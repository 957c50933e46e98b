/** The migration stream's messages: round trips, and hostile bytes refused before anything is written. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { MigrationError } from "./errors.js";
import {
  applyRam,
  ComponentBlob,
  decodeEnd,
  decodeMessage,
  encodeComponentFragments,
  encodeEnd,
  encodeMessage,
  encodeRam,
  MAX_MESSAGE_BYTES,
  MIGRATION_MAGIC,
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
  const c = { rounds: 3, ramMessages: 10, pages: 99, componentBytes: 1234 };
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
  assert.equal(decodeMessage(encodeMessage(MSG_HELLO, enc(hello))).type, MSG_HELLO);
  assert.notEqual(MSG_RAM, MSG_HELLO);
});
