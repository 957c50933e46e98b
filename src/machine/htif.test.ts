/** Tests for the HTIF host side: exit, console output, proxy syscalls and fromhost acknowledgements. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { GuestRam } from "../memory/guest-ram.js";
import { HTIF_MAX_INPUT, HTIF_MAX_RESPONSES, HTIF_MAX_WRITE, Htif } from "./htif.js";

const BASE = 0x80000000;
const TOHOST = BASE + 0x1000;
const FROMHOST = BASE + 0x1040;

function setup(): { ram: GuestRam; htif: Htif; out: number[]; input: (d: Uint8Array) => void } {
  const ram = new GuestRam(BASE, 0x10000);
  const out: number[] = [];
  let input: (d: Uint8Array) => void = () => {};
  const htif = new Htif({
    ram,
    tohost: TOHOST,
    fromhost: FROMHOST,
    console: { write: (d) => out.push(...d), onInput: (h) => (input = h) },
  });
  return { ram, htif, out, input: (d) => input(d) };
}

function put(ram: GuestRam, addr: number, v: bigint): void {
  ram.view.setBigUint64(addr - BASE, v, true);
}
function get(ram: GuestRam, addr: number): bigint {
  return ram.view.getBigUint64(addr - BASE, true);
}

test("nothing pending: poll returns null and touches nothing", () => {
  const { ram, htif } = setup();
  assert.equal(htif.poll(), null);
  assert.equal(get(ram, FROMHOST), 0n);
});

test("device 0 with bit 0 set exits with payload >> 1", () => {
  const { ram, htif } = setup();
  put(ram, TOHOST, 1n);
  assert.equal(htif.poll(), 0);
  put(ram, TOHOST, (1234n << 1n) | 1n);
  assert.equal(htif.poll(), 1234);
});

test("device 1 command 1 writes a character, clears tohost and acknowledges", () => {
  const { ram, htif, out } = setup();
  put(ram, TOHOST, (1n << 56n) | (1n << 48n) | 0x41n);
  assert.equal(htif.poll(), null);
  assert.deepEqual(out, [0x41]);
  assert.equal(get(ram, TOHOST), 0n);
  assert.equal(get(ram, FROMHOST), (1n << 56n) | (1n << 48n) | 1n);
  // A second character's acknowledgement waits until the guest clears fromhost.
  put(ram, TOHOST, (1n << 56n) | (1n << 48n) | 0x42n);
  htif.poll();
  assert.deepEqual(out, [0x41, 0x42]);
  assert.equal(get(ram, FROMHOST), (1n << 56n) | (1n << 48n) | 1n);
  put(ram, FROMHOST, 0n);
  htif.poll();
  assert.equal(get(ram, FROMHOST), (1n << 56n) | (1n << 48n) | 1n);
});

test("proxy syscalls through a magic-memory block: write(1, buf, len) and exit(code)", () => {
  const { ram, htif, out } = setup();
  const block = BASE + 0x2000;
  const buf = BASE + 0x3000;
  ram.u8.set(new TextEncoder().encode("hi\n"), buf - BASE);
  put(ram, block, 64n);
  put(ram, block + 8, 1n);
  put(ram, block + 16, BigInt(buf));
  put(ram, block + 24, 3n);
  put(ram, TOHOST, BigInt(block));
  assert.equal(htif.poll(), null);
  assert.equal(new TextDecoder().decode(Uint8Array.from(out)), "hi\n");
  assert.equal(get(ram, block), 3n); // return value
  assert.equal(get(ram, FROMHOST), 1n);
  put(ram, FROMHOST, 0n);
  put(ram, block, 93n);
  put(ram, block + 8, 7n);
  put(ram, TOHOST, BigInt(block));
  assert.equal(htif.poll(), 7);
});

test("a bad syscall pointer or buffer does not throw", () => {
  const { ram, htif } = setup();
  put(ram, TOHOST, 0x10n);
  assert.equal(htif.poll(), null);
  const block = BASE + 0x2000;
  put(ram, block, 64n);
  put(ram, block + 8, 1n);
  put(ram, block + 16, 0xfff00000n);
  put(ram, block + 24, 100n);
  put(ram, TOHOST, BigInt(block));
  assert.equal(htif.poll(), null);
  assert.equal(get(ram, block), BigInt.asUintN(64, -14n)); // EFAULT
});

test("console input answers a pending read with 0x100 | char", () => {
  const { ram, htif, input } = setup();
  put(ram, TOHOST, 1n << 56n); // device 1, command 0: read
  htif.poll();
  assert.equal(get(ram, FROMHOST), 0n);
  input(Uint8Array.of(0x7a));
  htif.poll();
  assert.equal(get(ram, FROMHOST), (1n << 56n) | 0x17an);
});

test("tohost outside RAM or misaligned is a configuration error", () => {
  const ram = new GuestRam(BASE, 0x1000);
  const console = { write: () => {}, onInput: () => {} };
  assert.throws(() => new Htif({ ram, tohost: BASE + 0x2000, fromhost: null, console }), /tohost/);
  assert.throws(() => new Htif({ ram, tohost: BASE + 4, fromhost: null, console }), /tohost/);
});

test("hostile host input: a flood while the guest does not read keeps HTIF_MAX_INPUT bytes, in order", () => {
  const { ram, htif, input } = setup();
  const chunk = new Uint8Array(65536);
  for (let i = 0; i < chunk.length; i++) chunk[i] = i & 0xff;
  // 64 MiB, as `cat /dev/zero | tvisor run --bios none` delivers within a second.
  for (let i = 0; i < 1024; i++) input(chunk);
  assert.equal(htif.pendingInput, HTIF_MAX_INPUT);
  assert.equal(htif.droppedInput, 1024 * 65536 - HTIF_MAX_INPUT);
  // The first bytes are the ones kept: a script piped in is delivered from its start.
  for (let i = 0; i < 3; i++) {
    put(ram, TOHOST, 1n << 56n);
    htif.poll();
    assert.equal(get(ram, FROMHOST), (1n << 56n) | BigInt(0x100 | i));
    put(ram, FROMHOST, 0n);
  }
});

test("hostile guest: commands that are never acknowledged queue at most HTIF_MAX_RESPONSES responses", () => {
  const { ram, htif, out } = setup();
  for (let i = 0; i < 100_000; i++) {
    put(ram, TOHOST, (1n << 56n) | (1n << 48n) | 0x2en);
    assert.equal(htif.poll(), null);
  }
  assert.equal(out.length, 100_000);
  assert.ok(htif.pendingResponses <= HTIF_MAX_RESPONSES, `${htif.pendingResponses} responses queued`);
  // An exit still works with the queue full.
  put(ram, TOHOST, 1n);
  assert.equal(htif.poll(), 0);
});

test("hostile guest: SYS_write of all of RAM is a short write of HTIF_MAX_WRITE bytes", () => {
  const ram = new GuestRam(BASE, 4 << 20);
  let written = 0;
  let calls = 0;
  const htif = new Htif({
    ram,
    tohost: TOHOST,
    fromhost: null,
    console: {
      write: (d) => {
        written += d.length;
        calls++;
      },
      onInput: () => {},
    },
  });
  const block = BASE + 0x2000;
  put(ram, block, 64n);
  put(ram, block + 8, 1n);
  put(ram, block + 16, BigInt(BASE));
  put(ram, block + 24, BigInt(4 << 20));
  put(ram, TOHOST, BigInt(block));
  assert.equal(htif.poll(), null);
  assert.equal(written, HTIF_MAX_WRITE);
  assert.equal(calls, 1);
  assert.equal(get(ram, block), BigInt(HTIF_MAX_WRITE));
  // A length beyond 2^53 (a negative size_t) is short too, not a RangeError.
  put(ram, block, 64n);
  put(ram, block + 24, (1n << 64n) - 1n);
  put(ram, TOHOST, BigInt(block));
  assert.equal(htif.poll(), null);
  assert.equal(get(ram, block), BigInt(HTIF_MAX_WRITE));
});

test("flow control: HTIF pauses the host console at half a queue and resumes once the guest has read most", () => {
  const ram = new GuestRam(BASE, 0x10000);
  let input: (d: Uint8Array) => void = () => {};
  const pauses: boolean[] = [];
  const htif = new Htif({
    ram,
    tohost: TOHOST,
    fromhost: FROMHOST,
    console: { write: () => {}, onInput: (h) => (input = h), setInputPaused: (p) => pauses.push(p) },
  });
  input(new Uint8Array(HTIF_MAX_INPUT / 2));
  assert.deepEqual(pauses, [true]);
  input(new Uint8Array(100));
  assert.deepEqual(pauses, [true], "asked once");
  // The guest reads until less than a quarter waits.
  let reads = 0;
  while (pauses.length === 1) {
    put(ram, TOHOST, 1n << 56n);
    htif.poll();
    put(ram, FROMHOST, 0n);
    reads++;
  }
  assert.deepEqual(pauses, [true, false]);
  assert.equal(htif.pendingInput, HTIF_MAX_INPUT / 4 - 1);
  assert.equal(reads, HTIF_MAX_INPUT / 2 + 100 - (HTIF_MAX_INPUT / 4 - 1));
  assert.equal(htif.droppedInput, 0);
});
