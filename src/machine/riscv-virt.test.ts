/** Tests for the riscv-virt board with tiny hand-assembled guests: Linux entry state, SBI calls, power-off paths. */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { CharBackend } from "../io/char-backend.js";
import type { Clock } from "../io/clock.js";
import { parseFdt } from "./fdt-reader.js";
import { IMAGE_HEADER_SIZE, type LinuxKernel, parseLinuxImageHeader } from "./linux-image.js";
import { RiscvVirt } from "./riscv-virt.js";

const clock: Clock = { nowNs: () => performance.now() * 1e6, wallNs: () => Date.now() * 1e6 };

/** A Linux Image whose code0 jumps over the 64-byte header to `program`. */
function image(program: number[]): LinuxKernel {
  const bytes = new Uint8Array(IMAGE_HEADER_SIZE + program.length * 4);
  const dv = new DataView(bytes.buffer);
  dv.setUint32(0, 0x0400006f, true); // jal x0, +64
  dv.setBigUint64(8, 0x200000n, true);
  dv.setBigUint64(16, 0x10000n, true);
  dv.setBigUint64(48, 0x5643534952n, true);
  dv.setUint32(56, 0x05435352, true);
  program.forEach((insn, i) => {
    dv.setUint32(IMAGE_HEADER_SIZE + i * 4, insn, true);
  });
  return { image: bytes, header: parseLinuxImageHeader(bytes), compressed: false };
}

function board(harts = 1) {
  let out = "";
  const console: CharBackend = { write: (d) => (out += new TextDecoder().decode(d)), onInput: () => {} };
  const m = new RiscvVirt({ ramBytes: 32 << 20, harts, firmware: "builtin", clock, console });
  return { m, output: () => out };
}

const PUTCHAR_A = [0x00100893, 0x04100513, 0x00000073]; // li a7,1; li a0,'A'; ecall (legacy putchar)
const SRST_SHUTDOWN = [0x535258b7, 0x35488893, 0x00000813, 0x00000513, 0x00000593, 0x00000073]; // a7=SRST, a6=0, a0=0, a1=0
const HANG = [0x0000006f]; // j .

test("built-in SBI: the kernel runs in S-mode at 0x80200000 with a1 = DTB; console and SRST shutdown work", async () => {
  const { m, output } = board();
  const layout = m.loadLinux({ kernel: image([...PUTCHAR_A, ...SRST_SHUTDOWN, ...HANG]), bootargs: "x=1" });
  assert.equal(m.harts[0].pc, 0x80200000);
  assert.equal(m.harts[0].priv, 1);
  assert.equal(m.harts[0].getX(11), BigInt(layout.fdtAddr));
  const fdt = parseFdt(m.ram.u8.subarray(layout.fdtAddr - m.ram.base));
  assert.equal(fdt.version, 17);
  assert.deepEqual(await m.run(), { kind: "poweroff" });
  assert.equal(output(), "A");
  assert.ok(m.instret >= 9);
});

test("the SiFive test device powers off, and FINISHER_FAIL reports its code", async () => {
  // lui t0,0x100; lui t1,5; addi t1,t1,0x555; sw t1,0(t0)  -> 0x5555 at 0x100000
  const poweroff = [0x001002b7, 0x00005337, 0x55530313, 0x0062a023, ...HANG];
  const a = board();
  a.m.loadLinux({ kernel: image(poweroff), bootargs: "" });
  assert.deepEqual(await a.m.run(), { kind: "poweroff" });
  // lui t1,0x70003 ; addi t1,t1,0x333 -> 0x70003333: FINISHER_FAIL with code 0x7000
  const fail = [0x001002b7, 0x70003337, 0x33330313, 0x0062a023, ...HANG];
  const b = board();
  b.m.loadLinux({ kernel: image(fail), bootargs: "" });
  assert.deepEqual(await b.m.run(), { kind: "fail", code: 0x7000 });
});

test("stop() ends a spinning guest; secondary harts wait stopped for HSM", async () => {
  const { m } = board(2);
  m.loadLinux({ kernel: image(HANG), bootargs: "" });
  assert.equal(m.harts[1].stopped, true);
  setTimeout(() => m.stop(), 50);
  assert.deepEqual(await m.run(), { kind: "stopped" });
  const s = m.save();
  const again = board(2).m;
  assert.notEqual(again.harts[0].pc, m.harts[0].pc, "the target starts in a different state");
  again.restore(s);
  assert.equal(again.harts[0].pc, m.harts[0].pc);
  // Not the whole state: the CLINT's mtime follows the host clock. (Compared in parts, since a failing
  // deepEqual over 32 MiB of RAM would spend minutes printing the difference.)
  const back = again.save();
  assert.deepEqual(back.hartStates, s.hartStates);
  assert.ok(Buffer.from(back.ram as Uint8Array).equals(s.ram as Uint8Array), "RAM restored");
  assert.throws(() => board(1).m.restore(s), /2 hart/);
});
