/** The bare-program runner (`--bios none`): one M-mode hart, RAM at 0x80000000, a CLINT, and HTIF for exit and console. */
/*
 * This is the environment of Spike and of QEMU's `spike` machine that riscv-tests and similar bare
 * programs expect: execution starts in M-mode at the ELF entry with a0 = hart id, nothing else is set up,
 * and the program ends by writing `tohost`. Time is virtual by default (derived from the instruction
 * count), so a run is deterministic; a host clock can be passed for wall-clock time instead.
 */

import { FieldError, UserError } from "../base/errors.js";
import { MENVCFG_STCE } from "../cpu/csr-bits.js";
import { Hart } from "../cpu/hart.js";
import { ACLINT_BASE, ACLINT_SIZE, Aclint } from "../devices/aclint.js";
import type { CharBackend } from "../io/char-backend.js";
import type { Clock } from "../io/clock.js";
import { CSR_MENVCFG, CSR_STIMECMP } from "../isa/riscv/csr-names.js";
import { attachJit, type Jit, type JitSetting } from "../jit/jit.js";
import { GuestRam } from "../memory/guest-ram.js";
import { PhysicalBus } from "../memory/phys-bus.js";
import { loadElf, parseElf } from "./elf.js";
import { yieldToHost } from "./host-yield.js";
import { Htif } from "./htif.js";

/** RAM base of Spike and QEMU's spike/virt machines. */
export const BARE_RAM_BASE = 0x80000000;
/** Instructions per CPU batch; HTIF is polled between batches. */
const BATCH = 4096;
/** Virtual time: one 10 MHz tick per 10 instructions (a nominal 100 MIPS hart). */
const INSNS_PER_TICK = 10;
/** Batches between yields to the host event loop, so console output and timers get to run. */
const BATCHES_PER_YIELD = 256;
/** Idle wake-ups with no interrupt becoming deliverable before the run is declared hung. */
const MAX_IDLE_SPINS = 100_000;

export interface BareRunOptions {
  /** The program: an ELF64 RISC-V executable whose PT_LOAD segments lie in RAM. */
  elf: Uint8Array;
  /** RAM size in bytes (a positive multiple of 4 KiB). */
  memBytes: number;
  console: CharBackend;
  /** Stop with an error after this many instructions (guards test runs against programs that never exit). */
  maxInstructions?: number;
  /** Host clock for wall-clock `time`; when absent, time is derived from the instruction count. */
  clock?: Clock;
  /** Number of harts (Spike's -p): all start at the entry in M-mode with a0 = mhartid. Default 1. */
  harts?: number;
  /** Ends the run early (the console's reader has gone); the result then has `stopped` set and exit code 0. */
  signal?: { readonly aborted: boolean };
  /** Binary translation: `off` (default here: bare programs are ISA tests), `on` or `always`. */
  jit?: JitSetting;
  /** Receives the JITs attached (for statistics). */
  onJit?: (jits: Jit[]) => void;
}

/** The most harts a bare run may have (as for the riscv-virt board). */
export const BARE_MAX_HARTS = 8;

export interface BareRunResult {
  /** HTIF exit status: payload >> 1, 0 means success. */
  exitCode: number;
  instructions: number;
  /** The run was ended through `signal`, not by the program. */
  stopped?: boolean;
}

/** A clock whose time advances with retired instructions plus idle skips while the hart waits (WFI). */
class VirtualClock implements Clock {
  instructions = 0;
  idleTicks = 0;
  ticks(): number {
    return Math.floor(this.instructions / INSNS_PER_TICK) + this.idleTicks;
  }
  nowNs(): number {
    return this.ticks() * 100;
  }
  wallNs(): number {
    return this.nowNs();
  }
}

/** Load and run a bare ELF until it writes an HTIF exit. Throws UserError for bad programs and hangs. */
export async function runBareElf(opts: BareRunOptions): Promise<BareRunResult> {
  if (!Number.isSafeInteger(opts.memBytes) || opts.memBytes <= 0 || opts.memBytes % 4096 !== 0) {
    throw new FieldError(
      "memBytes",
      `must be a positive multiple of 4 KiB, got ${opts.memBytes}`,
      opts.memBytes,
    );
  }
  const image = parseElf(opts.elf);
  const tohost = image.symbols.get("tohost");
  if (tohost === undefined) {
    throw new UserError("ELF has no `tohost` symbol: a bare program must report its exit through HTIF");
  }
  const fromhost = image.symbols.get("fromhost");
  const ram = new GuestRam(BARE_RAM_BASE, opts.memBytes);
  loadElf(image, opts.elf, ram);
  const htif = new Htif({
    ram,
    tohost: symbolAddress(tohost, "tohost"),
    fromhost: fromhost === undefined ? null : symbolAddress(fromhost, "fromhost"),
    console: opts.console,
  });

  const virtual = opts.clock === undefined ? new VirtualClock() : null;
  const clock: Clock = opts.clock ?? (virtual as VirtualClock);
  const bus = new PhysicalBus(ram);
  const count = opts.harts ?? 1;
  if (!Number.isInteger(count) || count < 1 || count > BARE_MAX_HARTS) {
    throw new FieldError("harts", `must be 1..${BARE_MAX_HARTS}, got ${count}`, count);
  }
  const harts: Hart[] = [];
  const clint = new Aclint({
    hartCount: count,
    clock,
    sink: { setPending: (id, bit, level) => harts[id]?.setMip(bit, level) },
  });
  bus.map(ACLINT_BASE, ACLINT_SIZE, clint);
  for (let id = 0; id < count; id++) {
    const h = new Hart({ hartId: id, bus, timer: clint });
    // Spike's reset state: M-mode at the entry, a0 = mhartid, a1 = device tree (none here).
    h.pc = pcFromEntry(image.entry);
    h.setX(10, BigInt(id));
    h.setX(11, 0n);
    harts.push(h);
  }
  const jits = attachJit(harts, opts.jit ?? "off");
  opts.onJit?.(jits);

  const max = opts.maxInstructions ?? Number.POSITIVE_INFINITY;
  let instructions = 0;
  let batches = 0;
  let idleSpins = 0;
  for (;;) {
    // Harts take turns in batches; HTIF is polled after each turn, as Spike polls between its steps.
    let ran = 0;
    for (const h of harts) {
      const n = h.run(BATCH);
      ran += n;
      instructions += n;
      if (virtual !== null) virtual.instructions = instructions;
      clint.update();
      const code = htif.poll();
      if (code !== null) return { exitCode: code, instructions };
    }
    if (opts.signal?.aborted) return { exitCode: 0, instructions, stopped: true };
    if (instructions >= max) {
      throw new UserError(
        `program did not exit within ${opts.maxInstructions} instructions (pc 0x${pcHex(harts[0].pc)})`,
      );
    }
    if (harts.every((h) => h.stopped)) throw new UserError("the hart stopped without an HTIF exit");
    if (ran === 0 && harts.every((h) => h.waitingForInterrupt || h.stopped)) {
      // With mie = 0 on every hart nothing can wake one (priv spec 3.3.3: WFI resumes on mip & mie); this
      // board has no other source, so report it now instead of after MAX_IDLE_SPINS host sleeps.
      if (harts.every((h) => h.stopped || h.mie === 0)) {
        throw new UserError(
          `the hart waits for an interrupt with every interrupt disabled (mie = 0; WFI at pc 0x${pcHex(harts[0].pc)})`,
        );
      }
      if (++idleSpins > MAX_IDLE_SPINS) {
        throw new UserError(
          `the hart waits for an interrupt that never comes (WFI at pc 0x${pcHex(harts[0].pc)})`,
        );
      }
      if (virtual !== null)
        virtual.idleTicks += Math.min(...harts.map((h) => idleSkip(h, clint, virtual.ticks())));
      else await sleep(1);
      clint.update();
    } else {
      idleSpins = 0;
    }
    if (++batches % BATCHES_PER_YIELD === 0) await yieldToHost();
  }
}

/** How far to jump virtual time while the hart waits: to the nearest armed timer (CLINT or Sstc), capped. */
function idleSkip(h: Hart, clint: Aclint, now: number): number {
  let deadline = clint.nextDeadline();
  const menvcfg = h.readCsr(CSR_MENVCFG) ?? 0n;
  if ((menvcfg & MENVCFG_STCE) !== 0n) {
    const cmp = Number(h.readCsr(CSR_STIMECMP) ?? 0n);
    if (cmp < deadline) deadline = cmp;
  }
  const gap = deadline - now;
  // 1 ms of virtual time when no timer is armed (some other source may still wake the hart).
  return Number.isFinite(gap) && gap > 0 ? Math.min(gap, 10_000_000) : 10_000;
}

/** A symbol's value as a physical address (bare programs run with translation off). */
function symbolAddress(v: bigint, name: string): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER))
    throw new UserError(`${name} symbol 0x${v.toString(16)} is not in RAM`);
  return Number(v);
}

/** The PC holds a signed 64-bit value (docs/architecture.md): an entry above 2^63 becomes negative. */
function pcFromEntry(entry: bigint): number {
  return Number(BigInt.asIntN(64, entry));
}

function pcHex(pc: number): string {
  return BigInt.asUintN(64, BigInt(pc)).toString(16);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
