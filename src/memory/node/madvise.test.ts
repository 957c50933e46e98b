/** The madvise releaser on real guest RAM: pages go back to the host (mincore says so) and read as zeros. */
import assert from "node:assert/strict";
import { test } from "node:test";
import koffi from "koffi";
import { GuestRam } from "../guest-ram.js";
import { createMadviseReleaser, hostAddress } from "./madvise.js";

const BASE = 0x80000000;
const MiB = 1024 * 1024;

/** Resident 4 KiB pages of `view` according to mincore(2): what the host kernel really holds. */
function residentPages(view: Uint8Array): number {
  const lib = koffi.load("libc.so.6");
  const mincore = lib.func("int mincore(void *addr, size_t len, _Out_ uint8_t *vec)") as (
    a: Uint8Array,
    l: number,
    v: Uint8Array,
  ) => number;
  const vec = new Uint8Array(Math.ceil(view.length / 4096));
  assert.equal(mincore(view, view.length, vec), 0);
  return vec.reduce((a, b) => a + (b & 1), 0);
}

test("the address koffi passes is the wasm memory's own (a write through it shows in the buffer)", (t) => {
  if (process.platform !== "linux") return t.skip("madvise releaser is Linux-only");
  const ram = new GuestRam(BASE, 4 * MiB);
  const a = hostAddress(ram.u8);
  assert.ok(a !== null);
  assert.equal(a % 4096n, 0n, "RAM starts page-aligned after the control area");
  const b = hostAddress(ram.u8.subarray(4096));
  assert.equal(b, (a ?? 0n) + 4096n);
});

test("discarded pages leave the host's resident set, read as zeros and are usable again", (t) => {
  if (process.platform !== "linux") return t.skip("madvise releaser is Linux-only");
  const ram = new GuestRam(BASE, 16 * MiB);
  const rel = createMadviseReleaser(ram.buffer);
  assert.ok(rel !== null);
  assert.equal(ram.setReleaser(rel), true, "RAM is accepted as mergeable");
  ram.u8.fill(0xcd);
  const region = ram.u8.subarray(4 * MiB, 12 * MiB);
  assert.equal(residentPages(region), 2048);
  // A range with ragged ends keeps its partial pages.
  assert.equal(ram.discard(BASE + 4 * MiB - 100, 8 * MiB + 200), 8 * MiB);
  assert.equal(residentPages(region), 0);
  assert.equal(ram.u8[4 * MiB - 1], 0xcd);
  assert.equal(ram.u8[4 * MiB], 0);
  assert.equal(ram.u8[12 * MiB - 1], 0);
  assert.equal(ram.u8[12 * MiB], 0xcd);
  ram.u8[5 * MiB] = 7;
  assert.equal(ram.u8[5 * MiB], 7);
  // Out of RAM: nothing happens.
  assert.equal(ram.discard(BASE - 4096, 8192), 0);
  assert.equal(ram.discard(BASE + 16 * MiB, 4096), 0);
});

test("discard tells the JIT: a page holding translated code loses its mark", (t) => {
  if (process.platform !== "linux") return t.skip("madvise releaser is Linux-only");
  const ram = new GuestRam(BASE, 4 * MiB);
  ram.setReleaser(createMadviseReleaser(ram.buffer));
  const seen: number[] = [];
  ram.onCodeWrite((a) => seen.push(a));
  ram.markCode(3);
  ram.discard(BASE + 3 * 4096, 4096);
  assert.deepEqual(seen, [3]);
});

test("the releaser refuses views of another buffer or unaligned ones", (t) => {
  if (process.platform !== "linux") return t.skip("madvise releaser is Linux-only");
  const ram = new GuestRam(BASE, 4 * MiB);
  const rel = createMadviseReleaser(ram.buffer);
  assert.ok(rel !== null);
  assert.equal(rel.release(new Uint8Array(8192)), false);
  assert.equal(rel.release(ram.u8.subarray(100, 4196)), false);
  assert.equal(rel.release(ram.u8.subarray(4096, 8192)), true);
});
