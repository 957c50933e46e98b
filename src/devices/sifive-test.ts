/** The SiFive test finisher ("sifive,test0"/"syscon") that QEMU's `virt` board uses for poweroff and reboot. */
/*
 * Usage (machine wiring):
 *   const finisher = new SifiveTest((kind, code) => ...);
 *   bus.map(SIFIVE_TEST_BASE, SIFIVE_TEST_SIZE, finisher);
 * FDT: compatible "sifive,test1", "sifive,test0", "syscon" plus syscon-poweroff (value 0x5555) and
 * syscon-reboot (value 0x7777) nodes, as QEMU emits; Linux's syscon drivers write a 32-bit word at +0.
 *
 * A write at offset 0 with low half 0x5555 is a pass/poweroff, 0x3333 a failure whose exit code is the
 * upper half, 0x7777 a reset. Other values are ignored (QEMU reports them as guest errors).
 */
import type { SavedState, Stateful } from "../base/state.js";
import { StateReader } from "../base/state.js";
import type { AccessSize, MmioDevice } from "../memory/mmio.js";

export const SIFIVE_TEST_BASE = 0x100000;
export const SIFIVE_TEST_SIZE = 0x1000;

export const FINISHER_FAIL = 0x3333;
export const FINISHER_PASS = 0x5555;
export const FINISHER_RESET = 0x7777;

export type PowerEvent = "poweroff" | "reset" | "fail";

/** The finisher: a write-only register whose writes become power events for the machine. */
export class SifiveTest implements MmioDevice, Stateful {
  readonly name = "sifive-test";

  constructor(private readonly onPower: (kind: PowerEvent, code: number) => void) {}

  read(_offset: number, _size: AccessSize): number {
    return 0;
  }

  write(offset: number, size: AccessSize, value: number): void {
    // QEMU accepts 2- and 4-byte accesses; a 16-bit write carries no exit code.
    if (offset !== 0 || size === 1) return;
    const status = value & 0xffff;
    const code = size === 4 ? value >>> 16 : 0;
    if (status === FINISHER_PASS) this.onPower("poweroff", 0);
    else if (status === FINISHER_FAIL) this.onPower("fail", code);
    else if (status === FINISHER_RESET) this.onPower("reset", 0);
  }

  save(): SavedState {
    return { kind: "sifive-test", version: 1 };
  }

  restore(state: SavedState): void {
    // Stateless: only the kind and version, and no unknown fields.
    new StateReader(state, "sifive-test", "sifive-test", 1).done();
  }
}
