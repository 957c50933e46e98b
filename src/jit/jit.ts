/**
 * The JIT: finds hot guest code by execution counts, translates regions of a page to WebAssembly
 * (codegen.ts), keeps them in a bounded code cache keyed by virtual PC and the physical page behind it,
 * and drops them when their page is written (GuestRam's write-aware path). One instance per hart; it
 * plugs into `Hart.translator` and gives the interpreter everything it does not translate.
 */
import { mulh64, mulhsu64, mulhu64, res } from "../cpu/alu64.js";
import { PRIV_M, PRIV_S } from "../cpu/csr-bits.js";
import type { Hart } from "../cpu/hart.js";
import { HART_TLB, HART_TLB_SET_BYTES } from "../cpu/hart-state.js";
import { FETCH_CACHED, FETCH_TRAPPED, loadSlow, refillFetch, storeSlow } from "../cpu/mmu.js";
import { TLB_BYTES, TLB_LOAD } from "../cpu/tlb.js";
import { ENTRY_HEAT_MASK, ENTRY_HEAT_SIZE, type Translator } from "../cpu/translator.js";
import { emitRegion, PC_SLOT_OFF, type Region, type RegionBlock, SCRATCH_OFF } from "./codegen.js";
import { endsBlock, scanBlock } from "./decode.js";
import { F64, FunctionBody, I32, ModuleBuilder } from "./wasm/emitter.js";

/** `on`: translate code once it is hot; `always`: translate every block on its first execution (testing). */
export type JitMode = "on" | "always";

export interface JitOptions {
  mode: JitMode;
  /** Most regions kept; the oldest are evicted beyond it. */
  cacheSize?: number;
  /** Branches or jumps to an entry point before it is translated in `on` mode (default HOT_THRESHOLD). */
  threshold?: number;
}

export const DEFAULT_JIT_CACHE_SIZE = 8192;
/**
 * Branches and jumps to an entry point (counted by the interpreter in Hart.entryHeat) before it is
 * translated in `on` mode. Translating a region costs about as much as interpreting tens of thousands of
 * instructions (docs/jit.md), so code must be clearly hot before it pays; cold code (most of a boot)
 * runs in the interpreter without a lookup per block.
 */
const HOT_THRESHOLD = 50000;
/** Dispatcher visits that confirm a hot counter belongs to this entry and not to one sharing it. */
const CONFIRM = 4;
/** Further visits after which a waiting entry forces its batch out. */
const FORCE_AFTER = 256;
/** Counter value of a translated target: the interpreter always stops there. */
const TRANSLATED_HEAT = 1 << 30;
/** Counter value of an untranslatable target: the interpreter never stops there. */
const COLD_HEAT = -(1 << 30);
/** Hot entries compiled together in one module (module creation has a fixed cost). */
const BATCH = 16;
/** Most blocks in one region, and most instructions. */
const MAX_REGION_BLOCKS = 48;
const MAX_REGION_INSNS = 1024;
/** Entry points counted before the counters are forgotten (a hostile guest cannot grow them without bound). */
const MAX_ENTRIES = 1 << 17;

type RegionFn = (budget: number, tlb: number) => number;
/** The trampoline: calls table element `slot` with (budget, tlb). */
type RunFn = (slot: number, budget: number, tlb: number) => number;

/** What the dispatcher knows about one virtual entry PC. */
interface Entry {
  pc: number;
  /** RAM offset of the code page this was seen in; a different one means the page was remapped. */
  pageOff: number;
  count: number;
  /** The translation's element in the JIT's function table, or -1 when not translated. */
  slot: number;
  /** Instructions of the entry block (the budget must cover them to call fn). */
  entryLen: number;
  /** Never translate (the first instruction is not translatable). */
  cold: boolean;
  pending: boolean;
}

/** Counters of what the JIT did, for the benchmarks. */
export interface JitStats {
  regions: number;
  blocks: number;
  guestInsns: number;
  wasmBytes: number;
  modules: number;
  compileMs: number;
  invalidations: number;
  evictions: number;
  /** Calls into translated code. */
  regionCalls: number;
  /** Instructions retired in translated code. */
  regionInsns: number;
}

export class Jit implements Translator {
  readonly stats: JitStats = {
    regions: 0,
    blocks: 0,
    guestInsns: 0,
    wasmBytes: 0,
    modules: 0,
    compileMs: 0,
    invalidations: 0,
    evictions: 0,
    regionCalls: 0,
    regionInsns: 0,
  };
  private entries = new Map<number, Entry>();
  /** Translated entries in insertion order (FIFO eviction). */
  private readonly cache = new Set<Entry>();
  /** Translated entries by RAM page index of their code. */
  private readonly byPage = new Map<number, Set<Entry>>();
  private pending: Entry[] = [];
  private readonly threshold: number;
  private readonly confirm: number;
  private readonly forceAfter: number;
  private readonly batch: number;
  private readonly cacheSize: number;
  private readonly pcSlot: Float64Array;
  private readonly imports: WebAssembly.Imports;
  /**
   * Every translation sits in one function table and is called through one exported trampoline: a call
   * from JS into wasm goes through a wrapper that V8 specializes per function only after many calls, and
   * with thousands of region functions most calls went through the slow generic one (6% of a boot).
   */
  private readonly table: WebAssembly.Table;
  private readonly run: RunFn;
  private readonly freeSlots: number[] = [];
  private tableUsed = 0;
  /** Set by the code-write listener; a store helper reports it so the region exits after the store. */
  private codeWritten = false;
  private readonly memoryPages: number;
  /** The hart's entryHeat (see Hart.entryHeat): counters start at -threshold. */
  private readonly heat: Int32Array;

  constructor(
    private readonly hart: Hart,
    opts: JitOptions,
  ) {
    const ram = hart.ram;
    if (ram.memory === null || hart.block < 0) throw new Error("the JIT needs RAM in a wasm memory");
    this.threshold = opts.mode === "always" ? 1 : Math.max(1, opts.threshold ?? HOT_THRESHOLD);
    this.confirm = opts.mode === "always" ? 1 : Math.min(CONFIRM, this.threshold);
    this.forceAfter = Math.min(FORCE_AFTER, 4 * this.threshold);
    this.heat = new Int32Array(ENTRY_HEAT_SIZE).fill(-this.threshold);
    hart.entryHeat = this.heat;
    this.batch = opts.mode === "always" ? 1 : BATCH;
    this.cacheSize = Math.max(1, opts.cacheSize ?? DEFAULT_JIT_CACHE_SIZE);
    this.pcSlot = new Float64Array(ram.buffer, hart.block + PC_SLOT_OFF, 1);
    this.memoryPages = ram.buffer.byteLength / 65536;
    const scratch = new Int32Array(ram.buffer, hart.block + SCRATCH_OFF, 2);
    const h = hart;
    this.imports = {
      env: {
        memory: ram.memory,
        // f3 is the load's funct3: the helper sign- or zero-extends as the interpreter does.
        load: (pc: number, lo: number, hi: number, f3: number): number => {
          h.pc = pc;
          if (!loadSlow(h, lo, hi, 1 << (f3 & 3))) return 0;
          let vlo = h.tmpLo;
          let vhi = h.tmpHi;
          if (f3 === 0) {
            vlo = (vlo << 24) >> 24;
            vhi = vlo >> 31;
          } else if (f3 === 1) {
            vlo = (vlo << 16) >> 16;
            vhi = vlo >> 31;
          } else if (f3 === 2) vhi = vlo >> 31;
          else if (f3 !== 3) vhi = 0;
          scratch[0] = vlo;
          scratch[1] = vhi;
          return 1;
        },
        store: (pc: number, lo: number, hi: number, size: number, vlo: number, vhi: number): number => {
          h.pc = pc;
          this.codeWritten = false;
          if (!storeSlow(h, lo, hi, size, vlo, vhi)) return 0;
          return this.codeWritten ? 2 : 1;
        },
        amo: (pc: number, insn: number): number => {
          h.pc = pc;
          this.codeWritten = false;
          if (!h.executeAtomic(insn)) return 0;
          return this.codeWritten ? 2 : 1;
        },
        interp: (pc: number): number => {
          h.pc = pc;
          this.codeWritten = false;
          h.breakLoop = false;
          // Nothing retired: a trap, which set the PC and the trap CSRs. Retired with breakLoop set (a state
          // change the interpreter would stop for): the region leaves after it, as after a code write.
          if (h.interpretSome(0, 1) === 0) return 0;
          // (breakLoop stays set, so the dispatcher returns to Hart.run() right after the region.)
          return h.breakLoop || this.codeWritten ? 2 : 1;
        },
        mulh: (kind: number, alo: number, ahi: number, blo: number, bhi: number): void => {
          if (kind === 1) mulh64(alo, ahi, blo, bhi);
          else if (kind === 2) mulhsu64(alo, ahi, blo, bhi);
          else mulhu64(alo, ahi, blo, bhi);
          scratch[0] = res.lo;
          scratch[1] = res.hi;
        },
      },
    };
    ram.onCodeWrite((first, last) => this.invalidatePages(first, last));
    this.table = new WebAssembly.Table({ element: "anyfunc", initial: 64 });
    this.imports.env.table = this.table;
    const tb = new ModuleBuilder(this.memoryPages);
    tb.importTable(0);
    const regionType = tb.typeIndex([I32, I32], [I32]);
    const body = new FunctionBody(3);
    body.get(1);
    body.get(2);
    body.get(0);
    body.callIndirect(regionType);
    tb.addFunction("run", [I32, I32, I32], [I32], body);
    const tramp = new WebAssembly.Instance(new WebAssembly.Module(tb.encode()), this.imports);
    this.run = tramp.exports.run as RunFn;
  }

  /** A free table element for a new translation. */
  private allocSlot(fn: RegionFn): number {
    let slot = this.freeSlots.pop();
    if (slot === undefined) {
      slot = this.tableUsed++;
      if (slot >= this.table.length) this.table.grow(this.table.length);
    }
    this.table.set(slot, fn);
    return slot;
  }

  reset(): void {
    for (const e of this.cache) this.unlink(e);
    this.cache.clear();
    this.byPage.clear();
    this.entries.clear();
    this.pending = [];
    this.heat.fill(-this.threshold);
  }

  execute(n: number, limit: number): number {
    const h = this.hart;
    const heat = this.heat;
    const tlbBase =
      h.block +
      HART_TLB +
      (h.dataPriv() === PRIV_M ? 2 : h.dataPriv() === PRIV_S ? 1 : 0) * HART_TLB_SET_BYTES +
      TLB_LOAD * TLB_BYTES;
    while (n < limit) {
      const pc = h.pc;
      const slot = (pc >>> 1) & ENTRY_HEAT_MASK;
      // A target that is neither hot nor translated (the counter is shared by a hash, so this is cheap and
      // may err towards a lookup): the interpreter runs on until it branches to a hot one.
      if (++heat[slot] < 0) {
        n = h.interpretSome(n, limit);
        if (h.breakLoop) return n;
        continue;
      }
      if (!(pc >= h.fetchPageStart && pc < h.fetchPageEnd)) {
        const r = refillFetch(h, false);
        if (r === FETCH_TRAPPED) return n;
        if (r !== FETCH_CACHED) {
          // Code in a device region (the boot ROM): interpreted, one instruction at a time.
          n = h.interpretSome(n, n + 1);
          if (h.breakLoop) return n;
          continue;
        }
      }
      const pageOff = h.fetchPageOff;
      let e = this.entries.get(pc);
      if (e === undefined || e.pageOff !== pageOff) {
        if (e !== undefined) this.unlink(e);
        if (this.entries.size >= MAX_ENTRIES) this.forgetColdEntries();
        e = { pc, pageOff, count: 0, slot: -1, entryLen: 0, cold: false, pending: false };
        this.entries.set(pc, e);
      }
      if (e.slot >= 0) {
        heat[slot] = TRANSLATED_HEAT;
        if (e.entryLen <= limit - n) {
          this.stats.regionCalls++;
          const retired = this.run(e.slot, limit - n, tlbBase);
          n += retired;
          this.stats.regionInsns += retired;
          const next = this.pcSlot[0];
          // NaN: a helper raised a trap and set hart.pc (and breakLoop) already.
          if (!Number.isNaN(next)) h.pc = next;
          if (h.breakLoop) return n;
          continue;
        }
      } else if (e.cold) {
        heat[slot] = COLD_HEAT;
      } else {
        // Hot by its counter; a few more visits confirm it is not just sharing the counter of a hot one.
        ++e.count;
        // A full batch is compiled at once; an entry that stays hot while it waits forces its batch out.
        if (!e.pending && e.count >= this.confirm) this.enqueue(e);
        else if (e.pending && e.count >= this.confirm + this.forceAfter) this.compilePending();
        if (e.slot >= 0) continue;
      }
      n = h.interpretSome(n, limit);
      if (h.breakLoop) return n;
    }
    return n;
  }

  private enqueue(e: Entry): void {
    e.pending = true;
    this.pending.push(e);
    if (this.pending.length >= this.batch) this.compilePending();
  }

  /** Translate every pending entry into one module. */
  private compilePending(): void {
    const list = this.pending;
    this.pending = [];
    const t0 = performance.now();
    const h = this.hart;
    const mb = new ModuleBuilder(this.memoryPages);
    mb.importFunction("env", "load", [F64, I32, I32, I32], [I32]);
    mb.importFunction("env", "store", [F64, I32, I32, I32, I32, I32], [I32]);
    mb.importFunction("env", "mulh", [I32, I32, I32, I32, I32], []);
    mb.importFunction("env", "amo", [F64, I32], [I32]);
    mb.importFunction("env", "interp", [F64], [I32]);
    const made: Array<{ e: Entry; name: string; region: Region }> = [];
    for (const e of list) {
      e.pending = false;
      // The entry may have been invalidated or remapped while it waited.
      if (this.entries.get(e.pc) !== e) continue;
      const region = this.discover(e);
      if (region === null) {
        e.cold = true;
        continue;
      }
      const body = new FunctionBody(2);
      emitRegion(body, region, h.block);
      const name = `r${made.length}`;
      mb.addFunction(name, [I32, I32], [I32], body);
      made.push({ e, name, region });
    }
    if (made.length === 0) return;
    const bytes = mb.encode();
    const inst = new WebAssembly.Instance(new WebAssembly.Module(bytes), this.imports);
    this.stats.modules++;
    this.stats.wasmBytes += bytes.length;
    for (const { e, name, region } of made) {
      e.slot = this.allocSlot(inst.exports[name] as RegionFn);
      e.entryLen = region.blocks[0].insns.length;
      this.stats.regions++;
      this.stats.blocks += region.blocks.length;
      for (const b of region.blocks) this.stats.guestInsns += b.insns.length;
      const page = e.pageOff >>> 12;
      let set = this.byPage.get(page);
      if (set === undefined) {
        set = new Set();
        this.byPage.set(page, set);
      }
      set.add(e);
      this.cache.add(e);
      h.ram.markCode(page);
    }
    while (this.cache.size > this.cacheSize) {
      const oldest = this.cache.values().next().value as Entry;
      this.unlink(oldest);
      this.entries.delete(oldest.pc);
      this.stats.evictions++;
    }
    this.stats.compileMs += performance.now() - t0;
  }

  /**
   * The region from an entry: its block, then the blocks its static successors start in the same page,
   * breadth first, up to the size limits. Null when the first instruction cannot be translated.
   */
  private discover(e: Entry): Region | null {
    const u16 = this.hart.ram.u16;
    const vpage = e.pc - (((e.pc % 4096) + 4096) % 4096);
    const blocks: RegionBlock[] = [];
    const seen = new Set<number>();
    const queue = [e.pc];
    let insns = 0;
    seen.add(e.pc);
    while (queue.length > 0 && blocks.length < MAX_REGION_BLOCKS && insns < MAX_REGION_INSNS) {
      const start = queue.shift() as number;
      const b = scanBlock(u16, e.pageOff, start);
      if (b.insns.length === 0) continue;
      blocks.push({ start, insns: b.insns });
      insns += b.insns.length;
      const lastI = b.insns[b.insns.length - 1];
      const succ: number[] = [];
      const ins = lastI.insn;
      if (endsBlock(ins)) {
        const op = ins & 0x7f;
        if (op === 0x63) {
          const imm =
            ((ins >> 31) << 12) |
            (((ins >>> 7) & 1) << 11) |
            (((ins >>> 25) & 0x3f) << 5) |
            (((ins >>> 8) & 0xf) << 1);
          succ.push(lastI.pc + imm, lastI.pc + lastI.ilen);
        } else if (op === 0x6f) {
          const imm =
            ((ins >> 31) << 20) |
            (ins & 0xff000) |
            (((ins >>> 20) & 1) << 11) |
            (((ins >>> 21) & 0x3ff) << 1);
          succ.push(lastI.pc + imm);
        }
      } else {
        succ.push(lastI.pc + lastI.ilen);
      }
      for (const s of succ) {
        if (s >= vpage && s < vpage + 4096 && !seen.has(s)) {
          seen.add(s);
          queue.push(s);
        }
      }
    }
    if (blocks.length === 0 || blocks[0].start !== e.pc) return null;
    return { entry: e.pc, vpage, blocks };
  }

  /** Drop an entry's translation (it keeps its counter). */
  private unlink(e: Entry): void {
    if (e.slot < 0) return;
    this.table.set(e.slot, null);
    this.freeSlots.push(e.slot);
    e.slot = -1;
    e.count = 0;
    this.heat[(e.pc >>> 1) & ENTRY_HEAT_MASK] = -this.threshold;
    this.cache.delete(e);
    this.byPage.get(e.pageOff >>> 12)?.delete(e);
  }

  /** GuestRam listener: pages [first, last] were written while they held translated code. */
  private invalidatePages(first: number, last: number): void {
    this.codeWritten = true;
    for (const [page, set] of this.byPage) {
      if (page < first || page > last) continue;
      for (const e of set) {
        this.unlink(e);
        this.entries.delete(e.pc);
        this.stats.invalidations++;
      }
      this.byPage.delete(page);
    }
  }

  private forgetColdEntries(): void {
    for (const [pc, e] of this.entries) if (e.slot < 0 && !e.pending) this.entries.delete(pc);
  }
}

/** The `--jit` setting: `off` runs the interpreter alone. */
export type JitSetting = "off" | JitMode;

/**
 * Plug a JIT into each hart unless the setting is `off` or RAM could not be placed in a wasm memory (then
 * the interpreter runs alone, which is always correct). Returns the JITs attached.
 */
export function attachJit(harts: readonly Hart[], setting: JitSetting, cacheSize?: number): Jit[] {
  if (setting === "off") return [];
  const out: Jit[] = [];
  for (const h of harts) {
    if (h.ram.memory === null || h.block < 0) continue;
    const j = new Jit(h, { mode: setting, cacheSize });
    h.translator = j;
    out.push(j);
  }
  return out;
}
