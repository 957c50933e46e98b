/**
 * Lockstep on a Linux boot: the bundled kernel and initramfs boot on two identical boards, one with the
 * interpreter alone and one with the JIT (in `on` mode at a low threshold, so most of the code that runs
 * twice is translated and the dispatcher, chaining, region exits and invalidation all happen). Both boards
 * run on the same deterministic clock, derived from the steps they take, so the guest sees the same timer
 * on both. After every round of small batches (so region exits land anywhere in a block) the harts' PC,
 * privilege, integer registers and instret must be identical; CSRs and RAM are compared periodically, and
 * the console output at the end. The bound is a count of guest instructions, never time.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import type { CharBackend } from "../../src/io/char-backend.js";
import type { Clock } from "../../src/io/clock.js";
import {
  CSR_MSTATUS,
  CSR_SATP,
  CSR_SCAUSE,
  CSR_SEPC,
  CSR_STVAL,
  CSR_STVEC,
} from "../../src/isa/riscv/csr-names.js";
import { Jit } from "../../src/jit/jit.js";
import { loadBootKernel } from "../../src/machine/linux-image.js";
import { nodeGunzip } from "../../src/machine/node/gunzip.js";
import { RiscvVirt } from "../../src/machine/riscv-virt.js";
import { INITRD, KERNEL, missingImages } from "../boot/guest-session.js";

/** Guest instructions run in lockstep (the first part of the boot: early init, memory setup, drivers). */
const INSTRUCTIONS = 6_000_000;
/** Steps per hart per round: small and odd, so batch ends fall at every offset inside blocks. */
const BATCH = 37;
const CSRS = [CSR_MSTATUS, CSR_SATP, CSR_SCAUSE, CSR_SEPC, CSR_STVAL, CSR_STVEC];

for (const harts of [1, 2]) {
  test(`lockstep Linux boot, ${harts} hart(s): JIT and interpreter agree after every round for ${INSTRUCTIONS} instructions`, {
    timeout: 20 * 60_000,
  }, async (t) => {
    const why = missingImages();
    if (why) return t.skip(why);
    const kernel = await loadBootKernel(readFileSync(KERNEL), nodeGunzip);
    const initrd = new Uint8Array(readFileSync(INITRD));
    // One clock for both boards: it advances by the steps taken, identically on both while they agree.
    let now = 0;
    const clock: Clock = { nowNs: () => now, wallNs: () => 1.7e18 + now };
    const make = (jit: boolean) => {
      let out = "";
      const con: CharBackend = {
        write: (d) => (out += Buffer.from(d).toString("latin1")),
        onInput: () => {},
      };
      const m = new RiscvVirt({
        ramBytes: 64 << 20,
        harts,
        firmware: "builtin",
        clock,
        console: con,
        random: (n) => new Uint8Array(n).fill(7),
        batch: BATCH,
      });
      const jits: Jit[] = [];
      if (jit) {
        for (const h of m.harts) {
          const j = new Jit(h, { mode: "on", threshold: 20 });
          h.translator = j;
          jits.push(j);
        }
      }
      m.loadLinux({ kernel, initrd, bootargs: "console=ttyS0" });
      return { m, jits, output: () => out };
    };
    const a = make(false);
    const b = make(true);
    let rounds = 0;
    const x0 = a.m.harts.map((h) => h.x);
    const x1 = b.m.harts.map((h) => h.x);
    while (a.m.instret < INSTRUCTIONS) {
      const ra = a.m.step();
      const rb = b.m.step();
      rounds++;
      const where = () => `round ${rounds}, ${a.m.instret} instructions`;
      assert.equal(rb, ra, `steps differ at ${where()}`);
      for (let i = 0; i < harts; i++) {
        const ha = a.m.harts[i];
        const hb = b.m.harts[i];
        if (ha.pc !== hb.pc || ha.priv !== hb.priv || ha.instret !== hb.instret) {
          assert.fail(
            `hart ${i} at ${where()}: pc ${ha.pc.toString(16)} / ${hb.pc.toString(16)}, priv ${ha.priv} / ${hb.priv}, instret ${ha.instret} / ${hb.instret}`,
          );
        }
        const xa = x0[i];
        const xb = x1[i];
        for (let r = 2; r < 64; r++) {
          if (xa[r] !== xb[r])
            assert.fail(`hart ${i} x${r >> 1} differs at ${where()}, pc ${ha.pc.toString(16)}`);
        }
        if (rounds % 64 === 0) {
          for (const c of CSRS)
            assert.equal(hb.readCsr(c), ha.readCsr(c), `CSR ${c.toString(16)} at ${where()}`);
        }
      }
      if (rounds % 20_000 === 0)
        assert.ok(Buffer.compare(a.m.ram.u8, b.m.ram.u8) === 0, `RAM differs at ${where()}`);
      assert.equal(b.m.pendingExit, a.m.pendingExit);
      if (a.m.pendingExit !== null) break;
      now += ra > 0 ? ra * 20 : 1e6;
    }
    assert.ok(Buffer.compare(a.m.ram.u8, b.m.ram.u8) === 0, "RAM differs at the end");
    assert.equal(b.output(), a.output());
    // The kernel got past its early setup: paging is on (satp.MODE is not Bare).
    assert.notEqual(a.m.harts[0].readCsr(CSR_SATP), 0n, "the kernel enabled paging");
    const translated = b.jits.reduce((s, j) => s + j.stats.regionInsns, 0);
    assert.ok(translated > INSTRUCTIONS / 4, `most of the work ran translated (${translated})`);
  });
}
