/** Test doubles shared by the device unit tests: a settable clock, recording IRQ sinks and lines, a console. */
import type { CharBackend } from "../io/char-backend.js";
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

/** A console backend that records what the device transmits and lets the test type input. */
export class FakeChar implements CharBackend {
  /** Every byte written, in order. */
  readonly out: number[] = [];
  handler: ((d: Uint8Array) => void) | null = null;
  write(data: Uint8Array): void {
    this.out.push(...data);
  }
  onInput(handler: (d: Uint8Array) => void): void {
    this.handler = handler;
  }
  type(s: string): void {
    this.handler?.(new TextEncoder().encode(s));
  }
  /** The output as text. */
  text(): string {
    return new TextDecoder().decode(new Uint8Array(this.out));
  }
}
