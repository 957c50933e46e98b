/** Test doubles shared by the device unit tests: a settable clock, recording IRQ sinks and lines. */
import type { Clock } from "../io/clock.js";
import type { HartInterruptSink, IrqLine } from "./irq.js";

/** A clock whose monotonic and wall times only move when a test says so. */
export class FakeClock implements Clock {
  constructor(
    public mono = 0,
    public wall = 1_700_000_000_000_000_000,
  ) {}
  nowNs(): number {
    return this.mono;
  }
  wallNs(): number {
    return this.wall;
  }
  advance(ns: number): void {
    this.mono += ns;
    this.wall += ns;
  }
}

/** Records the current level of every (hart, mip bit) pair. */
export class RecordingSink implements HartInterruptSink {
  readonly levels = new Map<string, boolean>();
  setPending(hartId: number, bit: number, level: boolean): void {
    this.levels.set(`${hartId}:${bit}`, level);
  }
  get(hartId: number, bit: number): boolean {
    return this.levels.get(`${hartId}:${bit}`) ?? false;
  }
}

/** An IRQ line that remembers its level and counts rising edges. */
export class FakeIrq implements IrqLine {
  level = false;
  rises = 0;
  set(level: boolean): void {
    if (level && !this.level) this.rises++;
    this.level = level;
  }
}
