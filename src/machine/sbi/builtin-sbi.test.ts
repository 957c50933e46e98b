/** Tests for the built-in SBI against stub harts: register convention and each extension's behaviour. */

import assert from "node:assert/strict";
import { test } from "node:test";
import { prng } from "../../base/testing.js";
import { CSR_MIP, CSR_STIMECMP } from "../../isa/riscv/csr-names.js";
import { hostileU64, sbiMachine } from "./testing.js";

test("BASE: spec version 2.0, probe of implemented and missing extensions", () => {
  const { harts: hs, call } = sbiMachine();
  assert.deepEqual(call(hs[0], 0x10, 0), { error: 0n, value: 0x02000000n });
  assert.equal(call(hs[0], 0x10, 3, 0x54494d45n).value, 1n); // TIME
  assert.equal(call(hs[0], 0x10, 3, 0x48534dn).value, 1n); // HSM
  assert.equal(call(hs[0], 0x10, 3, 0x4442434en).value, 1n); // DBCN
  assert.equal(call(hs[0], 0x10, 3, 0x504d55n).value, 0n); // PMU: not implemented
  assert.equal(call(hs[0], 0x10, 99).error, -2n);
  assert.equal(call(hs[0], 0x12345678, 0).error, -2n);
});

test("TIME and legacy set_timer program stimecmp", () => {
  const { harts: hs, call } = sbiMachine();
  assert.equal(call(hs[0], 0x54494d45, 0, 5000n).error, 0n);
  assert.equal(hs[0].csr.get(CSR_STIMECMP), 5000n);
  call(hs[1], 0, 0, 777n);
  assert.equal(hs[1].csr.get(CSR_STIMECMP), 777n);
});

test("IPI: hart mask selects targets; mask base -1 means all; bad hart is INVALID_PARAM", () => {
  const { harts: hs, call } = sbiMachine(3);
  assert.equal(call(hs[0], 0x735049, 0, 0b10n, 0n).error, 0n);
  assert.equal(hs[1].readCsr(CSR_MIP), 2n);
  assert.equal(hs[0].readCsr(CSR_MIP), 0n);
  assert.equal(call(hs[0], 0x735049, 0, 1n, 2n).error, 0n); // hart 2
  assert.equal(hs[2].readCsr(CSR_MIP), 2n);
  assert.equal(call(hs[0], 0x735049, 0, 0n, (1n << 64n) - 1n).error, 0n);
  assert.equal(hs[0].readCsr(CSR_MIP), 2n);
  assert.equal(call(hs[0], 0x735049, 0, 0b1000n, 0n).error, -3n);
  call(hs[0], 3, 0); // legacy clear_ipi clears SSIP on the caller
  assert.equal(hs[0].readCsr(CSR_MIP), 0n);
});

test("RFENCE flushes the selected harts; HFENCE is not supported", () => {
  const { harts: hs, call } = sbiMachine();
  assert.equal(call(hs[0], 0x52464e43, 1, 0b11n, 0n, 0n, 4096n).error, 0n);
  assert.deepEqual([hs[0].flushes, hs[1].flushes], [1, 1]);
  assert.equal(call(hs[0], 0x52464e43, 0, 0b10n, 0n).error, 0n);
  assert.deepEqual([hs[0].flushes, hs[1].flushes], [1, 2]);
  assert.equal(call(hs[0], 0x52464e43, 3, 1n, 0n).error, -2n);
});

test("HSM: start a stopped hart in S-mode with a0/a1, status, stop", () => {
  const { harts: hs, call } = sbiMachine();
  hs[1].stopped = true;
  hs[1].priv = 3;
  assert.equal(call(hs[0], 0x48534d, 2, 1n).value, 1n); // STOPPED
  assert.equal(call(hs[0], 0x48534d, 0, 1n, 0x80000100n, 0xabcn).error, 0n);
  assert.equal(hs[1].stopped, false);
  assert.equal(hs[1].pc, 0x80000100);
  assert.equal(hs[1].priv, 1);
  assert.equal(hs[1].getX(10), 1n);
  assert.equal(hs[1].getX(11), 0xabcn);
  assert.equal(call(hs[0], 0x48534d, 2, 1n).value, 0n); // STARTED
  assert.equal(call(hs[0], 0x48534d, 0, 1n, 0x80000100n, 0n).error, -6n); // ALREADY_AVAILABLE
  assert.equal(call(hs[0], 0x48534d, 0, 7n, 0x80000100n, 0n).error, -3n);
  assert.equal(call(hs[0], 0x48534d, 0, 1n, 0x10n, 0n).error, -5n);
  call(hs[1], 0x48534d, 1);
  assert.equal(hs[1].stopped, true);
  assert.equal(call(hs[0], 0x48534d, 3, 0n).error, 0n); // retentive suspend = wfi
  assert.equal(hs[0].waitingForInterrupt, true);
});

test("SRST: shutdown and reboots reach the platform; bad types are rejected", () => {
  const { harts: hs, resets, call } = sbiMachine();
  call(hs[0], 0x53525354, 0, 0n, 0n);
  call(hs[0], 0x53525354, 0, 1n, 0n);
  call(hs[0], 0x53525354, 0, 2n, 1n);
  assert.deepEqual(
    resets.map((r) => r.type),
    ["shutdown", "cold-reboot", "warm-reboot"],
  );
  assert.equal(call(hs[0], 0x53525354, 0, 3n, 0n).error, -3n);
  assert.equal(call(hs[0], 0x53525354, 0, 0n, 5n).error, -3n);
  call(hs[0], 8, 0);
  assert.deepEqual(resets.at(-1)?.type, "shutdown");
});

test("consoles: legacy putchar/getchar leave a1 alone; DBCN reads and writes physical buffers", () => {
  const { harts: hs, ram, out, input, call } = sbiMachine();
  input.push(0x41, 0x42);
  call(hs[0], 1, 0, 0x68n, 99n);
  assert.equal(hs[0].getX(11), 99n);
  assert.equal(call(hs[0], 2, 0).error, 0x41n);
  ram.u8.set(new TextEncoder().encode("hi!"), 0x10);
  assert.deepEqual(call(hs[0], 0x4442434e, 0, 3n, 0x80000010n, 0n), { error: 0n, value: 3n });
  assert.deepEqual(call(hs[0], 0x4442434e, 1, 8n, 0x80000020n, 0n), { error: 0n, value: 1n });
  assert.equal(ram.u8[0x20], 0x42);
  assert.equal(call(hs[0], 2, 0).error, -1n); // no input left
  call(hs[0], 0x4442434e, 2, 0x0an);
  assert.equal(new TextDecoder().decode(new Uint8Array(out)), "hhi!\n");
  assert.equal(call(hs[0], 0x4442434e, 0, 16n, 0x10n, 0n).error, -3n);
});

test("fuzz: random EIDs, FIDs and arguments from every hart never throw and return SBI errors", () => {
  const eids = [
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0x10, 0x54494d45, 0x735049, 0x52464e43, 0x48534d, 0x53525354, 0x4442434e,
  ];
  const errors = new Set([0n, -1n, -2n, -3n, -4n, -5n, -6n, -7n, -8n, -9n]);
  for (const seed of [1, 2, 3]) {
    const next = prng(seed);
    const m = sbiMachine(4);
    const ramBefore = m.ram.u8.slice();
    for (let i = 0; i < 4000; i++) {
      const h = m.harts[next() % m.harts.length];
      const eid =
        next() % 5 === 0 ? BigInt(next()) | (BigInt(next()) << 32n) : BigInt(eids[next() % eids.length]);
      const fid = next() % 4 === 0 ? hostileU64(next) : BigInt(next() % 8);
      const args = Array.from({ length: 6 }, () => hostileU64(next));
      const resets = m.resets.length;
      h.stopped = false;
      const r = m.call(h, eid, fid, ...args);
      const e32 = Number(eid & 0xffffffffn);
      // hart_stop and a successful reset do not return (a0 keeps the argument).
      if (h.stopped || m.resets.length !== resets) continue;
      // Legacy getchar returns a byte or -1 in a0; every other call returns a standard error code.
      if (e32 === 2) assert.ok(r.error >= -1n && r.error <= 0xffn);
      else if (e32 > 8)
        assert.ok(errors.has(r.error), `eid 0x${eid.toString(16)} fid ${fid}: a0 = ${r.error}`);
    }
    // No input was queued, so no DBCN read may have written guest memory.
    assert.deepEqual(m.ram.u8, ramBefore);
  }
});

test("a platform fault inside a call becomes SBI_ERR_FAILED instead of unwinding into the CPU loop", () => {
  const m = sbiMachine(1);
  m.platform.consoleWrite = () => {
    throw new Error("console backend gone");
  };
  m.ram.u8[0] = 0x41;
  assert.equal(m.call(m.harts[0], 0x4442434e, 0, 1n, 0x80000000n, 0n).error, -1n);
  assert.equal(m.call(m.harts[0], 0x10, 0).error, 0n); // still serving calls
});
