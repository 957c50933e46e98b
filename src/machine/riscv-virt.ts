/** The riscv-virt board: QEMU-virt-compatible RAM, bus, interrupt controllers, devices and harts, and its run loop. */

import { ByteQueue } from "../base/byte-queue.js";
import { FieldError, UserError } from "../base/errors.js";
import { restoring, type SavedState, StateError, type Stateful, StateReader } from "../base/state.js";
import {
  CAUSE_SUPERVISOR_ECALL,
  COUNTEREN_CY,
  COUNTEREN_IR,
  COUNTEREN_TM,
  MEDELEG_WRITABLE,
  MENVCFG_STCE,
  PRIV_M,
  PRIV_S,
  S_INTERRUPTS,
} from "../cpu/csr-bits.js";
import { Hart } from "../cpu/hart.js";
import { Aclint } from "../devices/aclint.js";
import { GoldfishRtc } from "../devices/goldfish-rtc.js";
import type { HartInterruptSink } from "../devices/irq.js";
import { Ns16550 } from "../devices/ns16550.js";
import { Plic } from "../devices/plic.js";
import { type PowerEvent, SifiveTest } from "../devices/sifive-test.js";
import type { VirtioDevice } from "../devices/virtio/device.js";
import { VirtioMmioTransport } from "../devices/virtio/mmio-transport.js";
import type { CharBackend } from "../io/char-backend.js";
import type { Clock } from "../io/clock.js";
import {
  CSR_MCOUNTEREN,
  CSR_MEDELEG,
  CSR_MENVCFG,
  CSR_MIDELEG,
  CSR_PMPADDR0,
  CSR_PMPCFG0,
  CSR_SATP,
  CSR_SCOUNTEREN,
  CSR_STIMECMP,
} from "../isa/riscv/csr-names.js";
import { attachJit, type Jit, type JitSetting } from "../jit/jit.js";
import { GuestRam } from "../memory/guest-ram.js";
import { PhysicalBus } from "../memory/phys-bus.js";
import { type BootLayout, planBootLayout } from "./boot-layout.js";
import { yieldToHost } from "./host-yield.js";
import type { LinuxKernel } from "./linux-image.js";
import { buildResetVector } from "./reset-vector.js";
import { Rom } from "./rom.js";
import { BuiltinSbi } from "./sbi/builtin-sbi.js";
import type { SbiPlatform } from "./sbi/sbi-call.js";
import { buildVirtFdt, DEFAULT_RISCV_ISA } from "./virt-fdt.js";
import {
  VIRT_CLINT_BASE,
  VIRT_CLINT_SIZE,
  VIRT_DRAM_BASE,
  VIRT_MROM_BASE,
  VIRT_MROM_SIZE,
  VIRT_PLIC_BASE,
  VIRT_RTC_BASE,
  VIRT_RTC_IRQ,
  VIRT_RTC_SIZE,
  VIRT_TEST_BASE,
  VIRT_TEST_SIZE,
  VIRT_UART0_BASE,
  VIRT_UART0_IRQ,
  VIRT_UART0_SIZE,
  VIRT_VIRTIO_COUNT,
  VIRT_VIRTIO_SIZE,
  virtioSlotBase,
  virtioSlotIrq,
  virtPlicSize,
} from "./virt-memory-map.js";

export const MAX_HARTS = 8;

/** How the harts start: the built-in SBI (kernel in S-mode) or real M-mode firmware in RAM. */
export type FirmwareMode = "builtin" | "external";

export interface RiscvVirtOptions {
  ramBytes: number;
  harts: number;
  firmware: FirmwareMode;
  clock: Clock;
  console: CharBackend;
  /** Devices for virtio-mmio slots 0, 1, ... (at most 8). */
  virtio?: VirtioDevice[];
  isa?: string;
  mmuType?: "riscv,sv39" | "riscv,sv48";
  /** Host randomness for `/chosen/rng-seed`. */
  random?: (n: number) => Uint8Array;
  /** Instructions per hart per round-robin turn. */
  batch?: number;
  /** Diagnostics from devices (virtio DEVICE_NEEDS_RESET reasons). */
  log?: (msg: string) => void;
  /** Binary translation of guest code (src/jit): `on`, `off` (default) or `always`. */
  jit?: JitSetting;
  /** Most translated regions kept per hart. */
  jitCacheSize?: number;
}

export interface LinuxBootSpec {
  kernel?: LinuxKernel;
  initrd?: Uint8Array;
  bootargs: string;
  /** M-mode firmware image (raw binary), loaded at the start of RAM; required in "external" mode. */
  firmware?: Uint8Array;
}

/** Why run() returned. `reset` asks the owner to rebuild the machine and boot again. */
export type MachineExit =
  | { kind: "poweroff" }
  | { kind: "reset" }
  | { kind: "fail"; code: number }
  | { kind: "stopped" };

/**
 * Exceptions a supervisor handles itself once no M-mode firmware sits below it: every delegable
 * cause (spec 3.1.8) except ecall-from-S, which is the SBI call the board serves.
 */
const MEDELEG_ALL_BUT_SCALL = MEDELEG_WRITABLE & ~(1 << CAUSE_SUPERVISOR_ECALL);
/** mcounteren CY|TM|IR: S-mode may read cycle, time and instret (privileged spec 3.1.11). */
const MCOUNTEREN_ALL = BigInt(COUNTEREN_CY | COUNTEREN_TM | COUNTEREN_IR);
/** PMP entry 0 as NAPOT over the whole address space with RWX (spec 3.7.1), as OpenSBI leaves it for S-mode. */
const PMPADDR_ALL = (1n << 54n) - 1n;
const PMPCFG_NAPOT_RWX = 0x1fn;

/** Wall time between yields to the host event loop while the guest is busy (input, block I/O). */
const YIELD_INTERVAL_NS = 4e6;
/**
 * Longest idle sleep, a backstop only: whatever can make a waiting hart runnable ends the sleep at once
 * (an interrupt line rising through the sink, console input, stop/power events call wake()), and the
 * sleep ends at the earliest timer deadline (mtimecmp, stimecmp, RTC alarm). It was 50 ms; an idle guest
 * (WFI, Linux NO_HZ_IDLE: ~8 timer interrupts/s) then woke the host ~20 times a second for nothing, which
 * made an idle VM process cost ~1.4 % of a core against QEMU's ~0.4 % (docs/benchmarks.md, Overcommit).
 */
const MAX_IDLE_SLEEP_MS = 1000;
const NS_PER_TICK = 100;
/** Console input held for the guest at most (the oldest is dropped beyond it). */
const MAX_CONSOLE_INPUT = 1 << 20;

/** A board instance. Build it, `loadLinux()` (or `restore()`), then `run()`. */
export class RiscvVirt implements Stateful {
  readonly ram: GuestRam;
  readonly bus: PhysicalBus;
  readonly harts: Hart[] = [];
  /** The JITs attached to the harts (none with `jit: "off"`). */
  readonly jits: Jit[];
  readonly clint: Aclint;
  readonly plic: Plic;
  readonly uart: Ns16550;
  readonly rtc: GoldfishRtc;
  readonly test: SifiveTest;
  readonly transports: VirtioMmioTransport[] = [];
  readonly sbi: BuiltinSbi | null;
  readonly rom: Rom;
  private readonly opts: RiscvVirtOptions;
  private readonly batch: number;
  private exit: MachineExit | null = null;
  private wakeResolver: (() => void) | null = null;
  /** Host console input the guest has not taken yet (at most 1 MiB; a flood's excess is dropped); see routeInput. */
  private readonly consoleInput = new ByteQueue(MAX_CONSOLE_INPUT);
  /** Whether the UART's driver is taking input, as of the last pump (then the SBI console gets none). */
  private uartTakesInput = false;
  /** Whether the host console was asked to stop sending (the queue is half full). */
  private inputPaused = false;
  private running = false;
  layout: BootLayout | null = null;

  constructor(opts: RiscvVirtOptions) {
    if (!Number.isInteger(opts.harts) || opts.harts < 1 || opts.harts > MAX_HARTS) {
      throw new FieldError("harts", `must be 1..${MAX_HARTS}, got ${opts.harts}`, opts.harts);
    }
    const virtio = opts.virtio ?? [];
    if (virtio.length > VIRT_VIRTIO_COUNT) throw new UserError(`at most ${VIRT_VIRTIO_COUNT} virtio devices`);
    this.opts = opts;
    this.batch = opts.batch ?? (opts.harts === 1 ? 50_000 : 4_000);
    this.ram = new GuestRam(VIRT_DRAM_BASE, opts.ramBytes);
    this.bus = new PhysicalBus(this.ram);

    const sink: HartInterruptSink = {
      setPending: (hartId, bit, level) => {
        const h = this.harts[hartId];
        if (!h) return;
        h.setMip(bit, level);
        if (level) this.wake();
      },
    };
    this.clint = new Aclint({ hartCount: opts.harts, sink, clock: opts.clock });
    this.plic = new Plic({ hartCount: opts.harts, sink });
    // The UART sees console input through routeInput, so the SBI console can take it over.
    const uartChar: CharBackend = { write: (d) => opts.console.write(d), onInput: () => {} };
    this.uart = new Ns16550({ char: uartChar, irq: this.plic.line(VIRT_UART0_IRQ) });
    opts.console.onInput((d) => this.routeInput(d));
    this.rtc = new GoldfishRtc({ clock: opts.clock, irq: this.plic.line(VIRT_RTC_IRQ) });
    this.test = new SifiveTest((kind, code) => this.powerEvent(kind, code));
    this.rom = new Rom("mrom");

    this.bus.map(VIRT_MROM_BASE, VIRT_MROM_SIZE, this.rom);
    this.bus.map(VIRT_TEST_BASE, VIRT_TEST_SIZE, this.test);
    this.bus.map(VIRT_RTC_BASE, VIRT_RTC_SIZE, this.rtc);
    this.bus.map(VIRT_CLINT_BASE, VIRT_CLINT_SIZE, this.clint);
    this.bus.map(VIRT_PLIC_BASE, virtPlicSize(opts.harts), this.plic);
    this.bus.map(VIRT_UART0_BASE, VIRT_UART0_SIZE, this.uart);
    virtio.forEach((device, slot) => {
      const t = new VirtioMmioTransport({
        device,
        ram: this.ram,
        irq: this.plic.line(virtioSlotIrq(slot)),
        name: `virtio${slot}`,
        onError: (reason) => opts.log?.(`virtio${slot}: ${reason}`),
      });
      this.transports.push(t);
      this.bus.map(virtioSlotBase(slot), VIRT_VIRTIO_SIZE, t);
    });

    for (let i = 0; i < opts.harts; i++) {
      this.harts.push(new Hart({ hartId: i, bus: this.bus, timer: this.clint }));
    }
    this.jits = attachJit(this.harts, opts.jit ?? "off", opts.jitCacheSize);
    if (opts.firmware === "builtin") {
      this.sbi = new BuiltinSbi(this.sbiPlatform());
      const hook = (h: Hart) => this.sbi!.handle(h);
      for (const h of this.harts) h.ecallHook = hook;
    } else {
      this.sbi = null;
    }
  }

  /** The device tree this board describes (also what loadLinux writes into RAM). */
  buildFdt(bootargs: string, initrd?: { start: number; end: number }): Uint8Array {
    return buildVirtFdt({
      harts: this.opts.harts,
      isa: this.opts.isa ?? DEFAULT_RISCV_ISA,
      mmuType: this.opts.mmuType,
      ramBase: this.ram.base,
      ramSize: this.ram.size,
      bootargs,
      initrd,
      rngSeed: this.opts.random?.(32),
      virtioSlots: this.transports.map((_, i) => i),
    });
  }

  /**
   * Place firmware, kernel, initramfs and DTB in RAM and set the harts' reset state: the Linux
   * RISC-V boot protocol (Documentation/riscv/boot.rst: a0 = hartid, a1 = DTB, satp = 0) for the
   * built-in SBI, or QEMU's reset-vector state (a0 = hartid, a1 = DTB, a2 = fw_dynamic_info) for firmware.
   */
  loadLinux(spec: LinuxBootSpec): BootLayout {
    const external = this.opts.firmware === "external";
    if (external && !spec.firmware) throw new UserError("external firmware mode needs a firmware image");
    if (!external && !spec.kernel) throw new UserError("no kernel given");
    const initrdLen = spec.initrd?.length ?? 0;
    const probe = this.buildFdt(spec.bootargs, spec.initrd ? { start: 0, end: 0 } : undefined);
    const layout = planBootLayout({
      ramBase: this.ram.base,
      ramSize: this.ram.size,
      kernelSize: spec.kernel?.header.imageSize,
      kernelAddr: spec.kernel?.loadAddr,
      initrdSize: initrdLen,
      fdtSize: probe.length,
      firmwareSize: external ? spec.firmware?.length : undefined,
    });
    const fdt = this.buildFdt(
      spec.bootargs,
      spec.initrd ? { start: layout.initrdAddr, end: layout.initrdAddr + initrdLen } : undefined,
    );
    const put = (addr: number, data: Uint8Array) => {
      if (!this.ram.write(addr, data)) throw new Error(`boot image at ${addr.toString(16)} outside RAM`);
    };
    put(layout.fdtAddr, fdt);
    if (spec.kernel) put(layout.kernelAddr, spec.kernel.image);
    if (spec.initrd) put(layout.initrdAddr, spec.initrd);
    this.layout = layout;

    if (external) {
      put(this.ram.base, spec.firmware!);
      const rom = buildResetVector({
        startAddr: this.ram.base,
        fdtAddr: layout.fdtAddr,
        // What QEMU passes in fw_dynamic_info.next_addr: the kernel's entry (fw_jump uses its own).
        nextAddr: spec.kernel?.entry ?? layout.kernelAddr,
      });
      this.rom.load(rom);
      // As on QEMU's virt board, every hart starts in M-mode at the reset vector in the boot ROM, which
      // loads a0 = mhartid, a1 = DTB, a2 = fw_dynamic_info and jumps to the firmware.
      for (const h of this.harts) {
        h.setPrivilege(PRIV_M);
        h.pc = VIRT_MROM_BASE;
        h.stopped = false;
      }
    } else {
      for (const h of this.harts) {
        this.enterSupervisor(h);
        // SBI HSM ordered booting (SBI spec v2.0 chapter 9): only the boot hart runs; Linux starts the rest.
        h.stopped = h.hartId !== 0;
      }
      const boot = this.harts[0];
      boot.pc = spec.kernel?.entry ?? layout.kernelAddr;
      boot.setX(10, 0n);
      boot.setX(11, BigInt(layout.fdtAddr));
    }
    return layout;
  }

  /** Total instructions retired by all harts. */
  get instret(): number {
    let n = 0;
    for (const h of this.harts) n += h.instret;
    return n;
  }

  /** Ask run() to return with { kind: "stopped" } (Ctrl-A X, an API stop). */
  stop(): void {
    this.exit ??= { kind: "stopped" };
    this.wake();
  }

  /**
   * One round of run(): each hart runs one batch, then the timers are updated and console input is passed
   * on. Returns the steps the harts took (0 when all of them wait for an interrupt). Tests drive a board
   * with it to run two boards in lockstep (tests/jit/lockstep-boot.test.ts).
   */
  step(): number {
    let ran = 0;
    for (const h of this.harts) {
      if (h.stopped) continue;
      ran += h.run(this.batch);
      if (this.exit !== null) break;
    }
    this.clint.update();
    this.rtc.update();
    this.pumpUartInput();
    return ran;
  }

  /** The exit a guest asked for (power-off, reset, failure) since run() or step() began, or null. */
  get pendingExit(): MachineExit | null {
    return this.exit;
  }

  /**
   * Run until power-off, reset, failure or stop(). Harts take turns in batches; between batches the
   * timers are updated, and the loop yields to the host event loop so console input and block I/O
   * completions get in. When every hart waits for an interrupt the loop sleeps until the next timer
   * deadline or until a device raises an interrupt.
   */
  async run(): Promise<MachineExit> {
    if (this.running) throw new Error("machine is already running");
    this.running = true;
    try {
      const clock = this.opts.clock;
      let lastYield = clock.nowNs();
      while (this.exit === null) {
        const ran = this.step();
        if (this.exit !== null) break;
        if (ran === 0) {
          await this.idle();
          lastYield = clock.nowNs();
        } else if (clock.nowNs() - lastYield > YIELD_INTERVAL_NS) {
          await yieldToHost();
          lastYield = clock.nowNs();
        }
      }
      const exit = this.exit;
      this.exit = null;
      return exit;
    } finally {
      this.running = false;
    }
  }

  /**
   * The board's own state, apart from RAM and its components: the geometry it was built with (checked
   * on restore), the boot ROM, and console input the guest has not taken yet. The built-in SBI keeps
   * no state of its own (HSM states are the harts' `stopped` flags).
   */
  saveBoard(): SavedState {
    return {
      kind: "riscv-virt-board",
      version: 1,
      harts: this.opts.harts,
      firmware: this.opts.firmware,
      ramBase: this.ram.base,
      ramSize: this.ram.size,
      virtioSlots: this.transports.length,
      rom: this.rom.contents(),
      consoleInput: this.consoleInput.toArray(),
    };
  }

  /**
   * Every component's state under its name, in a fixed order: `board`, `hart0`..., `clint`, `plic`,
   * `uart`, `rtc`, `test`, `virtio0`.... RAM is not included; a state file writes it in chunks.
   */
  saveComponents(): Array<[string, SavedState]> {
    const parts: Array<[string, SavedState]> = [["board", this.saveBoard()]];
    this.harts.forEach((h, i) => {
      parts.push([`hart${i}`, h.save()]);
    });
    parts.push(["clint", this.clint.save()], ["plic", this.plic.save()], ["uart", this.uart.save()]);
    parts.push(["rtc", this.rtc.save()], ["test", this.test.save()]);
    this.transports.forEach((t, i) => {
      parts.push([`virtio${i}`, t.save()]);
    });
    return parts;
  }

  /** The component names saveComponents() produces for this board, in order. */
  componentNames(): string[] {
    return [
      "board",
      ...this.harts.map((_, i) => `hart${i}`),
      "clint",
      "plic",
      "uart",
      "rtc",
      "test",
      ...this.transports.map((_, i) => `virtio${i}`),
    ];
  }

  /**
   * Restore every component but RAM from untrusted states. The set of names must be exactly this
   * board's; each component checks every field of its state before it changes anything, and errors
   * name the component (`hart1.pc`). Meant for a freshly built board: when it throws, drop the board.
   */
  restoreComponents(parts: ReadonlyMap<string, unknown>): void {
    const names = this.componentNames();
    for (const k of parts.keys())
      if (!names.includes(k)) throw new StateError("machine", k, "not a component of this board");
    const get = (name: string): SavedState => {
      if (!parts.has(name)) throw new StateError("machine", name, "missing component");
      return parts.get(name) as SavedState;
    };
    const board = restoring("board", () => this.checkBoard(get("board")));
    this.harts.forEach((h, i) => {
      restoring(`hart${i}`, () => h.restore(get(`hart${i}`)));
    });
    restoring("clint", () => this.clint.restore(get("clint")));
    restoring("plic", () => this.plic.restore(get("plic")));
    restoring("uart", () => this.uart.restore(get("uart")));
    restoring("rtc", () => this.rtc.restore(get("rtc")));
    restoring("test", () => this.test.restore(get("test")));
    this.transports.forEach((t, i) => {
      restoring(`virtio${i}`, () => t.restore(get(`virtio${i}`)));
    });
    this.rom.load(board.rom);
    this.consoleInput.clear();
    this.consoleInput.push(board.consoleInput);
  }

  /** Check the board state against this board's geometry; returns what restore takes from it. */
  private checkBoard(s: SavedState): { rom: Uint8Array; consoleInput: Uint8Array } {
    const r = new StateReader(s, "riscv-virt-board", "riscv-virt-board", 1);
    const same = (field: string, mine: number | string, what: (v: number | string) => string) => {
      const v = r.nested(field);
      if (v !== mine)
        r.fail(field, `the state is for ${what(v as number | string)}, this machine has ${what(mine)}`, v);
    };
    same("harts", this.opts.harts, (v) => `${v} hart(s)`);
    same("firmware", this.opts.firmware, (v) => `${v} firmware`);
    same("ramBase", this.ram.base, (v) => `RAM at ${v}`);
    same("ramSize", this.ram.size, (v) => `${v} bytes of RAM`);
    same("virtioSlots", this.transports.length, (v) => `${v} virtio device(s)`);
    const rom = r.typed("rom", Uint8Array, { max: VIRT_MROM_SIZE });
    const consoleInput = r.typed("consoleInput", Uint8Array, { max: MAX_CONSOLE_INPUT });
    r.done();
    return { rom, consoleInput };
  }

  /** Snapshot everything the guest can observe, RAM included, as one plain object (in-process snapshots). */
  save(): SavedState {
    const parts = this.saveComponents();
    const byName = new Map(parts);
    return {
      kind: "riscv-virt",
      // v3: the board's own fields in `board`; components as before.
      version: 3,
      board: byName.get("board")!,
      ram: this.ram.u8.slice(),
      hartStates: this.harts.map((_, i) => byName.get(`hart${i}`)!),
      clint: byName.get("clint")!,
      plic: byName.get("plic")!,
      uart: byName.get("uart")!,
      rtc: byName.get("rtc")!,
      test: byName.get("test")!,
      virtio: this.transports.map((_, i) => byName.get(`virtio${i}`)!),
    };
  }

  /** Restore a save() into a board built with the same options; every part is checked first (restoreComponents). */
  restore(s: SavedState): void {
    const r = new StateReader(s, "machine", "riscv-virt", 3);
    // The board's geometry first, so a state for another board says so rather than "wrong array size".
    restoring("board", () => this.checkBoard(r.nested("board") as SavedState));
    const ram = r.typed("ram", Uint8Array, this.ram.size);
    const harts = r.array("hartStates", this.harts.length);
    const virtio = r.array("virtio", this.transports.length);
    const parts = new Map<string, unknown>([["board", r.nested("board")]]);
    harts.forEach((h, i) => {
      parts.set(`hart${i}`, h);
    });
    for (const k of ["clint", "plic", "uart", "rtc", "test"]) parts.set(k, r.nested(k));
    virtio.forEach((v, i) => {
      parts.set(`virtio${i}`, v);
    });
    r.done();
    this.restoreComponents(parts);
    this.ram.setAll(ram);
  }

  /** Reset state of a hart entering Linux directly in S-mode (what OpenSBI would have set up in M-mode). */
  private enterSupervisor(h: Hart): void {
    h.writeCsr(CSR_MEDELEG, BigInt(MEDELEG_ALL_BUT_SCALL));
    // SSIP | STIP | SEIP: supervisor interrupts go straight to S-mode, as OpenSBI configures.
    h.writeCsr(CSR_MIDELEG, BigInt(S_INTERRUPTS));
    h.writeCsr(CSR_MCOUNTEREN, MCOUNTEREN_ALL);
    // OpenSBI (lib/sbi/sbi_hart.c mstatus_init) also opens the counters to U-mode; Linux 6.1 relies on
    // it for the vDSO's rdtime unless its SBI PMU driver sets scounteren, and we offer no PMU extension.
    h.writeCsr(CSR_SCOUNTEREN, MCOUNTEREN_ALL);
    h.writeCsr(CSR_MENVCFG, MENVCFG_STCE);
    h.writeCsr(CSR_PMPADDR0, PMPADDR_ALL);
    h.writeCsr(CSR_PMPCFG0, PMPCFG_NAPOT_RWX);
    // Sstc: no timer event until the kernel programs one.
    h.writeCsr(CSR_STIMECMP, (1n << 64n) - 1n);
    h.writeCsr(CSR_SATP, 0n); // MMU off (Linux boot.rst)
    h.setPrivilege(PRIV_S);
    h.flushTlb();
  }

  private sbiPlatform(): SbiPlatform {
    return {
      hartCount: this.opts.harts,
      hart: (id) => (Number.isInteger(id) && id >= 0 ? this.harts[id] : undefined),
      mtime: () => this.clint.mtime(),
      consoleWrite: (d) => this.opts.console.write(d),
      consoleRead: () => {
        // The SBI console (hvc0, earlycon=sbi) gets input only while no UART driver is taking it.
        if (this.uartTakesInput) return -1;
        const b = this.consoleInput.shift();
        this.inputTaken();
        return b;
      },
      // SBI calls may write through the view (DBCN read), so it counts as a write.
      physSlice: (addr, len) => this.ram.sliceForWrite(addr, len),
      systemReset: (type) => this.powerEvent(type === "shutdown" ? "poweroff" : "reset", 0),
      kick: () => this.wake(),
    };
  }

  /**
   * Host console input waits here until a guest console takes it: the UART when its driver has receive
   * interrupts on (or polls it), otherwise the SBI console's getchar (a kernel with console=hvc0 never
   * opens ttyS0). A script piped in before the guest is ready is therefore not lost. A flood (`cat
   * /dev/zero |`) beyond MAX_CONSOLE_INPUT is dropped, newest first as on a UART overrun, at O(1) per byte
   * taken (a ring buffer, not an array spliced per chunk).
   */
  private routeInput(data: Uint8Array): void {
    this.consoleInput.push(data);
    // Flow control: a backend that can pause stops sending while half the queue waits (none is lost).
    if (!this.inputPaused && this.consoleInput.length >= MAX_CONSOLE_INPUT / 2) {
      this.inputPaused = true;
      this.opts.console.setInputPaused?.(true);
    }
    this.pumpUartInput();
    this.wake();
  }

  /** Hand waiting input to the UART as fast as its driver takes it (no FIFO overruns, no loss at FIFO reset). */
  private pumpUartInput(): void {
    const space = this.uart.inputSpace();
    this.uartTakesInput = this.uart.wantsInput();
    const n = Math.min(this.consoleInput.length, space);
    if (n > 0) this.uart.receive(this.consoleInput.take(n));
    this.inputTaken();
  }

  /** Resume a paused host console once the guest has taken most of what waits. */
  private inputTaken(): void {
    if (this.inputPaused && this.consoleInput.length < MAX_CONSOLE_INPUT / 4) {
      this.inputPaused = false;
      this.opts.console.setInputPaused?.(false);
    }
  }

  private powerEvent(kind: PowerEvent, code: number): void {
    if (this.exit !== null) return;
    this.exit =
      kind === "poweroff"
        ? { kind: "poweroff" }
        : kind === "reset"
          ? { kind: "reset" }
          : { kind: "fail", code };
    // Stop the harts at once so the batch in progress ends (the write's instruction still retires).
    for (const h of this.harts) h.stopped = true;
    this.wake();
  }

  private wake(): void {
    const w = this.wakeResolver;
    if (w !== null) {
      this.wakeResolver = null;
      w();
    }
  }

  /** Sleep until the earliest timer deadline (ACLINT mtimecmp, Sstc stimecmp, RTC alarm) or a wake(). */
  private idle(): Promise<void> {
    const clock = this.opts.clock;
    const now = clock.nowNs();
    let deadline = Math.min(this.clint.deadlineNs(), this.rtc.deadlineNs());
    const mtime = this.clint.mtime();
    for (const h of this.harts) {
      if (h.stopped) continue;
      const cmp = h.readCsr(CSR_STIMECMP);
      if (cmp === undefined) continue;
      const delta = Number(BigInt.asUintN(64, cmp) - BigInt(Math.max(0, mtime)));
      deadline = Math.min(deadline, now + Math.max(0, delta) * NS_PER_TICK);
    }
    const ms = Math.min(MAX_IDLE_SLEEP_MS, Math.max(0, (deadline - now) / 1e6));
    if (ms < 0.05) return yieldToHost();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wakeResolver = null;
        resolve();
      }, ms);
      this.wakeResolver = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}
