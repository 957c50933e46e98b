/** The SiFive PLIC (RISC-V Platform-Level Interrupt Controller spec v1.0.0) as QEMU's `virt` board maps it. */
/*
 * Usage (machine wiring):
 *   const plic = new Plic({ hartCount, sink });
 *   bus.map(PLIC_BASE, plicSize(hartCount), plic);
 *   const uartIrq = plic.line(10);   // IrqLine for source 10
 * FDT: "riscv,ndev" = PLIC_NUM_SOURCES - 1 (95); interrupts-extended lists, per hart h,
 * context 2h = M-mode external (mip.MEIP, 11) and context 2h+1 = S-mode external (mip.SEIP, 9).
 *
 * Memory map (PLIC spec §3): priority 4*src; pending bits 0x1000; enables 0x2000 + 0x80*ctx;
 * threshold 0x200000 + 0x1000*ctx; claim/complete at threshold + 4.
 */
import { type SavedState, type Stateful, StateReader } from "../base/state.js";
import type { AccessSize, MmioDevice } from "../memory/mmio.js";
import type { HartInterruptSink, IrqLine } from "./irq.js";

export const PLIC_BASE = 0x0c000000;
/** Interrupt source IDs 0..95; source 0 is reserved ("no interrupt"), as in QEMU's virt (96 sources). */
export const PLIC_NUM_SOURCES = 96;
/** Highest priority; priorities are 0 (never interrupts) .. 7. */
export const PLIC_MAX_PRIORITY = 7;

const PRIORITY_BASE = 0x0;
const PENDING_BASE = 0x1000;
const ENABLE_BASE = 0x2000;
const ENABLE_STRIDE = 0x80;
const CONTEXT_BASE = 0x200000;
const CONTEXT_STRIDE = 0x1000;
const WORDS = PLIC_NUM_SOURCES / 32;
const MIP_MEIP = 11;
const MIP_SEIP = 9;

/** Size of the PLIC's MMIO region for a given number of harts (two contexts each). */
export function plicSize(hartCount: number): number {
  return CONTEXT_BASE + CONTEXT_STRIDE * 2 * hartCount;
}

export interface PlicOptions {
  hartCount: number;
  sink: HartInterruptSink;
}

/** PLIC with level-triggered gateways: a claimed source stays masked until its completion. */
export class Plic implements MmioDevice, Stateful {
  readonly name = "plic";
  readonly hartCount: number;
  readonly contextCount: number;
  private readonly sink: HartInterruptSink;
  private readonly priority = new Uint8Array(PLIC_NUM_SOURCES);
  /** Input line levels from the devices. */
  private readonly level = new Uint8Array(PLIC_NUM_SOURCES);
  /** Pending bits (PLIC spec §5: set by the gateway, cleared by a claim). */
  private readonly pending = new Uint32Array(WORDS);
  /** Sources claimed and not yet completed (the gateway forwards no new request meanwhile). */
  private readonly claimed = new Uint32Array(WORDS);
  private readonly enable: Uint32Array;
  private readonly threshold: Uint8Array;
  /** Last level driven on each context's output, so only changes reach the sink. */
  private readonly output: Uint8Array;
  private readonly lines: IrqLine[] = [];

  constructor(opts: PlicOptions) {
    if (!Number.isInteger(opts.hartCount) || opts.hartCount < 1 || opts.hartCount > 512) {
      throw new Error(`PLIC hart count must be 1..512, got ${opts.hartCount}`);
    }
    this.hartCount = opts.hartCount;
    this.contextCount = 2 * opts.hartCount;
    this.sink = opts.sink;
    this.enable = new Uint32Array(WORDS * this.contextCount);
    this.threshold = new Uint8Array(this.contextCount);
    this.output = new Uint8Array(this.contextCount);
    for (let i = 0; i < PLIC_NUM_SOURCES; i++) {
      const src = i;
      this.lines.push({ set: (lvl: boolean) => this.setLevel(src, lvl) });
    }
  }

  /** The IrqLine a device drives for source `n` (1..95). */
  line(n: number): IrqLine {
    if (!Number.isInteger(n) || n < 1 || n >= PLIC_NUM_SOURCES)
      throw new Error(`PLIC source ${n} out of range`);
    return this.lines[n];
  }

  /** Drive source `src` to `lvl` (what `line(src).set(lvl)` does). */
  setLevel(src: number, lvl: boolean): void {
    const v = lvl ? 1 : 0;
    if (this.level[src] === v) return;
    this.level[src] = v;
    if (v === 1) {
      this.gateway(src);
      return;
    }
    // A level-triggered request that is withdrawn before it is claimed is dropped (as QEMU's PLIC
    // does), so a driver that already serviced the device through another path sees no spurious claim.
    const w = src >>> 5;
    const bit = 1 << (src & 31);
    if ((this.pending[w] & bit) !== 0) {
      this.pending[w] &= ~bit;
      this.updateOutputs();
    }
  }

  read(offset: number, size: AccessSize): number {
    if (size !== 4 || (offset & 3) !== 0) return 0;
    if (offset < PENDING_BASE) {
      const src = (offset - PRIORITY_BASE) >>> 2;
      return src < PLIC_NUM_SOURCES ? this.priority[src] : 0;
    }
    if (offset < ENABLE_BASE) {
      const w = (offset - PENDING_BASE) >>> 2;
      return w < WORDS ? this.pending[w] : 0;
    }
    if (offset < CONTEXT_BASE) {
      const rel = offset - ENABLE_BASE;
      const ctx = Math.floor(rel / ENABLE_STRIDE);
      const w = (rel % ENABLE_STRIDE) >>> 2;
      if (ctx >= this.contextCount || w >= WORDS) return 0;
      return this.enable[ctx * WORDS + w];
    }
    const rel = offset - CONTEXT_BASE;
    const ctx = Math.floor(rel / CONTEXT_STRIDE);
    if (ctx >= this.contextCount) return 0;
    const reg = rel % CONTEXT_STRIDE;
    if (reg === 0) return this.threshold[ctx];
    if (reg === 4) return this.claim(ctx);
    return 0;
  }

  write(offset: number, size: AccessSize, value: number): void {
    if (size !== 4 || (offset & 3) !== 0) return;
    if (offset < PENDING_BASE) {
      const src = (offset - PRIORITY_BASE) >>> 2;
      if (src === 0 || src >= PLIC_NUM_SOURCES) return;
      this.priority[src] = Math.min(value >>> 0, PLIC_MAX_PRIORITY);
      this.updateOutputs();
      return;
    }
    if (offset < ENABLE_BASE) return; // pending bits are read-only
    if (offset < CONTEXT_BASE) {
      const rel = offset - ENABLE_BASE;
      const ctx = Math.floor(rel / ENABLE_STRIDE);
      const w = (rel % ENABLE_STRIDE) >>> 2;
      if (ctx >= this.contextCount || w >= WORDS) return;
      // Source 0 does not exist, so its enable bit is hardwired to zero.
      this.enable[ctx * WORDS + w] = (w === 0 ? value & ~1 : value) >>> 0;
      this.updateOutput(ctx);
      return;
    }
    const rel = offset - CONTEXT_BASE;
    const ctx = Math.floor(rel / CONTEXT_STRIDE);
    if (ctx >= this.contextCount) return;
    const reg = rel % CONTEXT_STRIDE;
    if (reg === 0) {
      this.threshold[ctx] = Math.min(value >>> 0, PLIC_MAX_PRIORITY);
      this.updateOutput(ctx);
    } else if (reg === 4) {
      this.complete(ctx, value >>> 0);
    }
  }

  save(): SavedState {
    return {
      kind: "plic",
      version: 1,
      hartCount: this.hartCount,
      priority: this.priority.slice(),
      level: this.level.slice(),
      pending: this.pending.slice(),
      claimed: this.claimed.slice(),
      enable: this.enable.slice(),
      threshold: this.threshold.slice(),
    };
  }

  /** Every field is checked (sizes, priority and threshold ranges, no source 0 bits) before anything changes. */
  restore(state: SavedState): void {
    const r = new StateReader(state, "plic", "plic", 1);
    r.int("hartCount", this.hartCount, this.hartCount);
    const priority = r.typedInRange("priority", Uint8Array, PLIC_NUM_SOURCES, 0, PLIC_MAX_PRIORITY);
    const level = r.typedInRange("level", Uint8Array, PLIC_NUM_SOURCES, 0, 1);
    const pending = r.typed("pending", Uint32Array, WORDS);
    const claimed = r.typed("claimed", Uint32Array, WORDS);
    const enable = r.typed("enable", Uint32Array, this.enable.length);
    const threshold = r.typedInRange("threshold", Uint8Array, this.contextCount, 0, PLIC_MAX_PRIORITY);
    r.done();
    // Source 0 does not exist (PLIC spec): it is never pending, claimed or enabled.
    if (priority[0] !== 0 || level[0] !== 0) r.fail("priority", "source 0 does not exist");
    if ((pending[0] & 1) !== 0 || (claimed[0] & 1) !== 0) r.fail("pending", "source 0 does not exist");
    for (let c = 0; c < this.contextCount; c++)
      if ((enable[c * WORDS] & 1) !== 0) r.fail(`enable[${c * WORDS}]`, "source 0 does not exist");
    this.priority.set(priority);
    this.level.set(level);
    this.pending.set(pending);
    this.claimed.set(claimed);
    this.enable.set(enable);
    this.threshold.set(threshold);
    // Force every context output to be re-driven.
    this.output.fill(2);
    this.updateOutputs();
  }

  /** Gateway: forward a request when the line is high and the source is not in service. */
  private gateway(src: number): void {
    const w = src >>> 5;
    const bit = 1 << (src & 31);
    if (this.level[src] === 1 && (this.claimed[w] & bit) === 0 && (this.pending[w] & bit) === 0) {
      this.pending[w] |= bit;
      this.updateOutputs();
    }
  }

  /** The best pending, enabled source above the context's threshold (ties: lowest ID), or 0. */
  private best(ctx: number): number {
    let bestSrc = 0;
    let bestPrio = this.threshold[ctx];
    const base = ctx * WORDS;
    for (let w = 0; w < WORDS; w++) {
      let bits = this.pending[w] & this.enable[base + w];
      while (bits !== 0) {
        const b = 31 - Math.clz32(bits & -bits);
        bits &= bits - 1;
        const src = (w << 5) | b;
        if (this.priority[src] > bestPrio) {
          bestPrio = this.priority[src];
          bestSrc = src;
        }
      }
    }
    return bestSrc;
  }

  /** PLIC spec §7: a claim returns the best source and clears its pending bit. */
  private claim(ctx: number): number {
    const src = this.best(ctx);
    if (src !== 0) {
      const w = src >>> 5;
      const bit = 1 << (src & 31);
      this.pending[w] &= ~bit;
      this.claimed[w] |= bit;
      this.updateOutputs();
    }
    return src;
  }

  /** PLIC spec §8: completion re-opens the gateway; IDs not enabled for this context are ignored. */
  private complete(ctx: number, src: number): void {
    if (src === 0 || src >= PLIC_NUM_SOURCES) return;
    const w = src >>> 5;
    const bit = 1 << (src & 31);
    if ((this.enable[ctx * WORDS + w] & bit) === 0) return;
    if ((this.claimed[w] & bit) === 0) return;
    this.claimed[w] &= ~bit;
    if (this.level[src] === 1) this.gateway(src);
  }

  private updateOutputs(): void {
    for (let ctx = 0; ctx < this.contextCount; ctx++) this.updateOutput(ctx);
  }

  private updateOutput(ctx: number): void {
    const v = this.best(ctx) !== 0 ? 1 : 0;
    if (this.output[ctx] === v) return;
    this.output[ctx] = v;
    this.sink.setPending(ctx >>> 1, (ctx & 1) === 0 ? MIP_MEIP : MIP_SEIP, v === 1);
  }
}
