/** The Goldfish RTC (Android emulator "google,goldfish-rtc") that QEMU's `virt` board provides, as Linux's rtc-goldfish drives it. */
/*
 * Usage (machine wiring):
 *   const rtc = new GoldfishRtc({ clock, irq: plic.line(RTC_IRQ) });
 *   bus.map(RTC_BASE, RTC_SIZE, rtc);
 *   loop: rtc.update() between CPU batches; an idle machine may sleep until rtc.deadlineNs().
 *
 * Registers (QEMU hw/rtc/goldfish_rtc.c, Linux drivers/rtc/rtc-goldfish.c), times in ns since the epoch:
 *   0x00 TIME_LOW (read latches TIME_HIGH)  0x04 TIME_HIGH  0x08 ALARM_LOW (write arms)  0x0c ALARM_HIGH
 *   0x10 IRQ_ENABLED  0x14 CLEAR_ALARM  0x18 ALARM_STATUS  0x1c CLEAR_INTERRUPT
 * Guest time = host wall clock + offset; setting the time only changes the offset.
 */
import { type SavedState, type Stateful, StateReader } from "../base/state.js";
import type { Clock } from "../io/clock.js";
import type { AccessSize, MmioDevice } from "../memory/mmio.js";
import type { IrqLine } from "./irq.js";

export const RTC_BASE = 0x101000;
export const RTC_SIZE = 0x1000;
export const RTC_IRQ = 11;

const TIME_LOW = 0x00;
const TIME_HIGH = 0x04;
const ALARM_LOW = 0x08;
const ALARM_HIGH = 0x0c;
const IRQ_ENABLED = 0x10;
const CLEAR_ALARM = 0x14;
const ALARM_STATUS = 0x18;
const CLEAR_INTERRUPT = 0x1c;

const MASK32 = 0xffff_ffffn;

export interface GoldfishRtcOptions {
  clock: Clock;
  irq: IrqLine;
}

/** Goldfish RTC: a nanosecond wall clock with one alarm. */
export class GoldfishRtc implements MmioDevice, Stateful {
  readonly name = "goldfish-rtc";
  private readonly clock: Clock;
  private readonly irq: IrqLine;
  /**
   * Guest time minus host wall time, in ns. BigInt because epoch nanoseconds (~2^61) exceed a
   * double's 53-bit mantissa; these registers are touched a few times a second at most.
   */
  private offset = 0n;
  private timeHighLatch = 0;
  private alarmLow = 0;
  private alarmHigh = 0;
  private alarmRunning = false;
  private irqEnabled = false;
  private irqPending = false;
  private irqLevel = false;

  constructor(opts: GoldfishRtcOptions) {
    this.clock = opts.clock;
    this.irq = opts.irq;
  }

  /** Guest time in ns since the epoch. */
  now(): bigint {
    // The TIME register pair is a 64-bit counter, so guest time wraps modulo 2^64.
    return BigInt.asUintN(64, BigInt(Math.floor(this.clock.wallNs())) + this.offset);
  }

  /** Fire the alarm if it is due; the machine calls this between CPU batches. */
  update(): void {
    if (this.alarmRunning && this.now() >= this.alarmNs()) {
      this.alarmRunning = false;
      this.irqPending = true;
      this.updateIrq();
    }
  }

  /** Host monotonic time (ns) at which the armed alarm fires; Infinity when none is armed. */
  deadlineNs(): number {
    if (!this.alarmRunning) return Number.POSITIVE_INFINITY;
    const left = this.alarmNs() - this.now();
    return this.clock.nowNs() + (left > 0n ? Number(left) : 0);
  }

  read(offset: number, size: AccessSize): number {
    if (size !== 4) return 0;
    switch (offset) {
      case TIME_LOW: {
        const t = this.now();
        this.timeHighLatch = Number((t >> 32n) & MASK32);
        return Number(t & MASK32);
      }
      case TIME_HIGH:
        return this.timeHighLatch;
      case ALARM_LOW:
        return this.alarmLow;
      case ALARM_HIGH:
        return this.alarmHigh;
      case IRQ_ENABLED:
        return this.irqEnabled ? 1 : 0;
      case ALARM_STATUS:
        return this.alarmRunning ? 1 : 0;
      default:
        return 0;
    }
  }

  write(offset: number, size: AccessSize, value: number): void {
    if (size !== 4) return;
    value >>>= 0;
    switch (offset) {
      case TIME_LOW:
      case TIME_HIGH: {
        // Replace one half of the current time; Linux writes HIGH then LOW.
        const t = this.now();
        const v = BigInt(value);
        const next = offset === TIME_LOW ? (t & ~MASK32) | v : (v << 32n) | (t & MASK32);
        // Kept as a signed 64-bit value (the counter wraps), so every offset a guest can set is one that
        // save() writes and restore() accepts.
        this.offset = BigInt.asIntN(64, this.offset + next - t);
        this.update();
        return;
      }
      case ALARM_LOW:
        this.alarmLow = value;
        this.alarmRunning = true;
        this.update();
        return;
      case ALARM_HIGH:
        this.alarmHigh = value;
        return;
      case IRQ_ENABLED:
        this.irqEnabled = (value & 1) !== 0;
        this.updateIrq();
        return;
      case CLEAR_ALARM:
        this.alarmRunning = false;
        return;
      case CLEAR_INTERRUPT:
        this.irqPending = false;
        this.updateIrq();
        return;
      default:
        return;
    }
  }

  save(): SavedState {
    return {
      kind: "goldfish-rtc",
      version: 1,
      offsetNs: this.offset.toString(),
      timeHighLatch: this.timeHighLatch,
      alarmLow: this.alarmLow,
      alarmHigh: this.alarmHigh,
      alarmRunning: this.alarmRunning,
      irqEnabled: this.irqEnabled,
      irqPending: this.irqPending,
    };
  }

  /** Every field is checked (a decimal 64-bit offset, 32-bit registers, flags) before anything changes. */
  restore(state: SavedState): void {
    const r = new StateReader(state, "goldfish-rtc", "goldfish-rtc", 1);
    const text = r.string("offsetNs", 21);
    if (!/^-?\d{1,20}$/.test(text))
      r.fail("offsetNs", `expected a decimal integer, got ${JSON.stringify(text)}`, text);
    const offset = BigInt(text);
    if (offset < -(1n << 63n) || offset >= 1n << 63n)
      r.fail("offsetNs", "outside the signed 64-bit range", text);
    const timeHighLatch = r.u32("timeHighLatch");
    const alarmLow = r.u32("alarmLow");
    const alarmHigh = r.u32("alarmHigh");
    const alarmRunning = r.bool("alarmRunning");
    const irqEnabled = r.bool("irqEnabled");
    const irqPending = r.bool("irqPending");
    r.done();
    // The offset from the host wall clock is kept, so guest time keeps tracking real time (as QEMU's tick_offset).
    this.offset = offset;
    this.timeHighLatch = timeHighLatch;
    this.alarmLow = alarmLow;
    this.alarmHigh = alarmHigh;
    this.alarmRunning = alarmRunning;
    this.irqEnabled = irqEnabled;
    this.irqPending = irqPending;
    this.irqLevel = this.irqEnabled && this.irqPending;
    this.irq.set(this.irqLevel);
  }

  private alarmNs(): bigint {
    return (BigInt(this.alarmHigh) << 32n) | BigInt(this.alarmLow);
  }

  private updateIrq(): void {
    const level = this.irqEnabled && this.irqPending;
    if (level !== this.irqLevel) {
      this.irqLevel = level;
      this.irq.set(level);
    }
  }
}
