/** Test-only: one hart over fresh RAM, the fixture every CPU test builds on. */
import { CSR_PMPADDR0, CSR_PMPCFG0 } from "../isa/riscv/csr-names.js";
import { GuestRam } from "../memory/guest-ram.js";
import { PhysicalBus } from "../memory/phys-bus.js";
import { Hart } from "./hart.js";

/** Where test RAM starts: the RAM base of QEMU's virt and spike machines. */
export const TEST_RAM_BASE = 0x80000000;

export interface TestHartOptions {
  /** RAM size in bytes (default 1 MiB). */
  ramBytes?: number;
  hartId?: number;
  /** The platform timer the hart reads as `time` (default: always 0). */
  mtime?: () => number;
  /** 32-bit instruction words placed at the start of RAM; the hart's pc is set there. */
  program?: number[];
  /**
   * Grant S and U all of memory through PMP entry 0 (NAPOT over everything, RWX), as firmware does before
   * entering a supervisor. Without it every S/U access faults (privileged spec 3.7.1: no matching entry).
   */
  openPmp?: boolean;
  /** Build RAM yourself (for instrumented RAM in fuzz tests). */
  ram?: GuestRam;
}

export interface TestHart {
  hart: Hart;
  ram: GuestRam;
  bus: PhysicalBus;
}

/** A hart in M-mode at reset over RAM at TEST_RAM_BASE and an otherwise empty bus. */
export function testHart(opts: TestHartOptions = {}): TestHart {
  const ram = opts.ram ?? new GuestRam(TEST_RAM_BASE, opts.ramBytes ?? 1 << 20);
  const bus = new PhysicalBus(ram);
  const mtime = opts.mtime ?? (() => 0);
  const hart = new Hart({ hartId: opts.hartId ?? 0, bus, timer: { mtime } });
  if (opts.openPmp) {
    hart.writeCsr(CSR_PMPADDR0, (1n << 54n) - 1n);
    hart.writeCsr(CSR_PMPCFG0, 0x1fn); // A = NAPOT, X | W | R
  }
  if (opts.program !== undefined) {
    opts.program.forEach((w, i) => {
      ram.view.setUint32(i * 4, w >>> 0, true);
    });
    hart.pc = ram.base;
  }
  return { hart, ram, bus };
}
