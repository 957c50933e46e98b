/** Tests for the SBI legacy extensions (SBI v2.0 ch. 5) with arbitrary argument values. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { CSR_MIP, CSR_STIMECMP } from "../../isa/riscv/csr-names.js";
import { sbiMachine } from "./testing.js";

const M64 = (1n << 64n) - 1n;

test("putchar sends the low byte of any value (NUL, 0xff, huge) and leaves a1 alone", () => {
  const { harts, out, call } = sbiMachine();
  const h = harts[0];
  for (const c of [0n, 0xffn, 0x1b5bn, M64, 1n << 63n, 0x80n]) {
    h.setX(11, 42n);
    const r = call(h, 1, 0, c, 42n);
    assert.equal(r.error, 0n);
    assert.equal(r.value, 42n);
  }
  assert.deepEqual(out, [0, 0xff, 0x5b, 0xff, 0, 0x80]);
});

test("getchar returns -1 with no input; fences and IPIs with garbage mask pointers act on every hart", () => {
  const { harts, input, call } = sbiMachine(3);
  assert.equal(call(harts[0], 2, 0).error, -1n);
  input.push(0xff);
  assert.equal(call(harts[0], 2, 0).error, 0xffn);
  for (const eid of [5, 6, 7]) assert.equal(call(harts[1], eid, 0, M64, M64, M64, M64).error, 0n);
  assert.deepEqual(
    harts.map((h) => h.flushes),
    [3, 3, 3],
  );
  assert.equal(call(harts[1], 4, 0, 0n).error, 0n); // NULL mask pointer
  assert.deepEqual(
    harts.map((h) => h.readCsr(CSR_MIP)),
    [2n, 2n, 2n],
  );
  call(harts[2], 3, 0);
  assert.deepEqual(
    harts.map((h) => h.readCsr(CSR_MIP)),
    [2n, 2n, 0n],
  );
});

test("set_timer stores any deadline; shutdown reaches the platform", () => {
  const { harts, resets, call } = sbiMachine();
  call(harts[0], 0, 0xffffffff, M64);
  assert.equal(harts[0].readCsr(CSR_STIMECMP), M64);
  call(harts[1], 8, 0x1234, M64);
  assert.deepEqual(resets, [{ type: "shutdown", reason: 0 }]);
});
