/** A 16550A UART (National Semiconductor PC16550D datasheet) as Linux's 8250 driver drives it on QEMU's `virt`. */
/*
 * Usage (machine wiring):
 *   const uart = new Ns16550({ char: backend, irq: plic.line(UART_IRQ) });
 *   bus.map(UART_BASE, UART_SIZE, uart);
 * FDT: compatible "ns16550a", reg-shift 0, reg-io-width 1, clock-frequency 3686400 (QEMU's value).
 *
 * Transmission is instantaneous: a byte written to THR goes straight to the backend, so THR and the
 * transmitter are always empty afterwards and THRE re-arms at once. Received bytes wait in a FIFO;
 * there is no character-timeout timer, so data below the trigger level reports the timeout
 * interrupt (IIR 0xC) immediately, which the 8250 driver handles like "data available".
 */
import { type SavedState, type Stateful, StateReader } from "../base/state.js";
import type { CharBackend } from "../io/char-backend.js";
import type { AccessSize, MmioDevice } from "../memory/mmio.js";
import type { IrqLine } from "./irq.js";

export const UART_BASE = 0x10000000;
export const UART_SIZE = 0x100;
export const UART_IRQ = 10;
export const UART_CLOCK_HZ = 3686400;

/** RX FIFO depth. A real 16550A holds 16 bytes; more lets pasted host input wait without loss. */
const RX_CAPACITY = 4096;

// Register offsets (datasheet Table 2).
const RBR_THR_DLL = 0;
const IER_DLM = 1;
const IIR_FCR = 2;
const LCR = 3;
const MCR = 4;
const LSR = 5;
const MSR = 6;
const SCR = 7;

const IER_RDI = 0x01; // received data available
const IER_THRI = 0x02; // THR empty
const IER_RLSI = 0x04; // receiver line status
const IER_MSI = 0x08; // modem status

const IIR_NO_INT = 0x01;
const IIR_MSI = 0x00;
const IIR_THRI = 0x02;
const IIR_RDI = 0x04;
const IIR_RLSI = 0x06;
const IIR_CTI = 0x0c;
const IIR_FIFO_ENABLED = 0xc0;

const FCR_ENABLE = 0x01;
const FCR_CLEAR_RX = 0x02;

const LCR_DLAB = 0x80;

const MCR_DTR = 0x01;
const MCR_RTS = 0x02;
const MCR_OUT1 = 0x04;
const MCR_OUT2 = 0x08;
const MCR_LOOP = 0x10;

/** LSR reads without input after which the guest counts as polling for input (a getchar loop). */
const LSR_POLLS_FOR_INPUT = 64;
const LSR_DR = 0x01;
const LSR_OE = 0x02;
const LSR_THRE = 0x20;
const LSR_TEMT = 0x40;

const MSR_DCTS = 0x01;
const MSR_DDSR = 0x02;
const MSR_TERI = 0x04;
const MSR_DDCD = 0x08;
const MSR_CTS = 0x10;
const MSR_DSR = 0x20;
const MSR_RI = 0x40;
const MSR_DCD = 0x80;
const MSR_DELTA = MSR_DCTS | MSR_DDSR | MSR_TERI | MSR_DDCD;

/** FCR bits 7:6 select the RX trigger level (datasheet FCR description). */
const TRIGGER_LEVELS = [1, 4, 8, 14];

export interface Ns16550Options {
  char: CharBackend;
  irq: IrqLine;
}

/** 16550A UART with a receive FIFO, THRE/RX/line-status/modem-status interrupts and loopback. */
export class Ns16550 implements MmioDevice, Stateful {
  readonly name = "ns16550a";
  private readonly char: CharBackend;
  private readonly irq: IrqLine;
  private readonly rx = new Uint8Array(RX_CAPACITY);
  private rxHead = 0;
  private rxCount = 0;
  private readonly txByte = new Uint8Array(1);
  private ier = 0;
  private fcr = 0;
  private lcr = 0x03;
  private mcr = MCR_OUT2;
  private lsr = LSR_THRE | LSR_TEMT;
  /** Modem-status inputs when not in loopback: carrier, DSR and CTS asserted, as a connected terminal. */
  private msr = MSR_DCD | MSR_DSR | MSR_CTS;
  private scr = 0;
  private dll = 0x0c;
  private dlm = 0;
  /** THRE interrupt armed (datasheet: cleared by reading IIR when it is the source, or writing THR). */
  private thrIpending = false;
  /** Input pacing (see inputSpace): consecutive polls with IER.RDI set, and LSR reads since input or output. */
  private rdiPolls = 0;
  private lsrPolls = 0;
  private irqLevel = false;

  constructor(opts: Ns16550Options) {
    this.char = opts.char;
    this.irq = opts.irq;
    this.char.onInput((data) => this.receive(data));
  }

  /**
   * How many host bytes the guest is ready for now, so the board can hold the rest back instead of
   * overrunning the FIFO (QEMU's can_receive). Input waits until the driver has had receive interrupts
   * enabled across two polls (Linux's 8250 startup enables IER.RDI and then drains RBR "for luck", which
   * would eat a byte delivered in between), or until the guest polls LSR, as a polled console does.
   */
  inputSpace(): number {
    if ((this.ier & IER_RDI) !== 0) this.rdiPolls++;
    else this.rdiPolls = 0;
    if (this.rdiPolls < 2 && this.lsrPolls < LSR_POLLS_FOR_INPUT) return 0;
    return this.capacity() - this.rxCount;
  }

  /** Whether a driver is taking input (receive interrupts on, or polling LSR), without counting a poll. */
  wantsInput(): boolean {
    return this.rdiPolls >= 2 || this.lsrPolls >= LSR_POLLS_FOR_INPUT;
  }

  /** Queue host bytes for the guest (what the backend's input handler calls). Overflow sets LSR.OE. */
  receive(data: Uint8Array): void {
    this.lsrPolls = 0;
    for (let i = 0; i < data.length; i++) this.pushRx(data[i]);
    this.updateIrq();
  }

  read(offset: number, _size: AccessSize): number {
    switch (offset) {
      case RBR_THR_DLL: {
        if (this.lcr & LCR_DLAB) return this.dll;
        if (this.rxCount === 0) return 0;
        const b = this.rx[this.rxHead];
        this.rxHead = (this.rxHead + 1) % RX_CAPACITY;
        this.rxCount--;
        if (this.rxCount === 0) this.lsr &= ~LSR_DR;
        this.updateIrq();
        return b;
      }
      case IER_DLM:
        return this.lcr & LCR_DLAB ? this.dlm : this.ier;
      case IIR_FCR: {
        const iir = this.iir();
        // Reading IIR while THRE is the reported source clears it (datasheet Table 4).
        if ((iir & 0x0f) === IIR_THRI) {
          this.thrIpending = false;
          this.updateIrq();
        }
        return iir | (this.fcr & FCR_ENABLE ? IIR_FIFO_ENABLED : 0);
      }
      case LCR:
        return this.lcr;
      case MCR:
        return this.mcr;
      case LSR: {
        const v = this.lsr;
        if (this.lsrPolls < LSR_POLLS_FOR_INPUT) this.lsrPolls++;
        // Overrun is cleared by reading LSR.
        if (v & LSR_OE) {
          this.lsr &= ~LSR_OE;
          this.updateIrq();
        }
        return v;
      }
      case MSR: {
        const v = this.msrValue();
        if (this.msr & MSR_DELTA) {
          this.msr &= ~MSR_DELTA;
          this.updateIrq();
        }
        return v;
      }
      case SCR:
        return this.scr;
      default:
        return 0;
    }
  }

  write(offset: number, _size: AccessSize, value: number): void {
    value &= 0xff;
    switch (offset) {
      case RBR_THR_DLL:
        if (this.lcr & LCR_DLAB) {
          this.dll = value;
          return;
        }
        // A putchar loop reads LSR before each THR write; only LSR reads without output mean polling for input.
        this.lsrPolls = 0;
        this.transmit(value);
        return;
      case IER_DLM: {
        if (this.lcr & LCR_DLAB) {
          this.dlm = value;
          return;
        }
        const old = this.ier;
        this.ier = value & 0x0f;
        // Enabling the THRE interrupt while THR is empty raises it at once; Linux's startup
        // THRE test (serial8250_do_startup) relies on this.
        if ((this.ier & IER_THRI) !== 0 && (old & IER_THRI) === 0 && this.lsr & LSR_THRE) {
          this.thrIpending = true;
        }
        this.updateIrq();
        return;
      }
      case IIR_FCR:
        if (value & FCR_CLEAR_RX || (value & FCR_ENABLE) !== (this.fcr & FCR_ENABLE)) {
          // Clearing, or toggling FIFO mode, empties the receive FIFO.
          this.rxHead = 0;
          this.rxCount = 0;
          this.lsr &= ~(LSR_DR | LSR_OE);
        }
        this.fcr = value & 0xc9;
        this.updateIrq();
        return;
      case LCR:
        this.lcr = value;
        return;
      case MCR: {
        const before = this.msrValue();
        this.mcr = value & 0x1f;
        const after = this.msrValue();
        this.noteModemChange(before, after);
        this.updateIrq();
        return;
      }
      case SCR:
        this.scr = value;
        return;
      default:
        return; // LSR and MSR are read-only
    }
  }

  save(): SavedState {
    const rx = new Uint8Array(this.rxCount);
    for (let i = 0; i < this.rxCount; i++) rx[i] = this.rx[(this.rxHead + i) % RX_CAPACITY];
    return {
      kind: "ns16550a",
      version: 1,
      ier: this.ier,
      fcr: this.fcr,
      lcr: this.lcr,
      mcr: this.mcr,
      lsr: this.lsr,
      msr: this.msr,
      scr: this.scr,
      dll: this.dll,
      dlm: this.dlm,
      thrIpending: this.thrIpending,
      rx,
    };
  }

  /** Every register is checked against the bits it implements before anything changes. */
  restore(state: SavedState): void {
    const r = new StateReader(state, "ns16550a", "ns16550a", 1);
    const byte = (field: string, mask: number): number => {
      const v = r.int(field, 0, 0xff);
      if ((v & ~mask) !== 0) r.fail(field, `has bits outside 0x${mask.toString(16)}: 0x${v.toString(16)}`, v);
      return v;
    };
    const ier = byte("ier", 0x0f);
    const fcr = byte("fcr", 0xc9);
    const lcr = byte("lcr", 0xff);
    const mcr = byte("mcr", 0x1f);
    const lsr = byte("lsr", 0xff);
    const msr = byte("msr", 0xff);
    const scr = byte("scr", 0xff);
    const dll = byte("dll", 0xff);
    const dlm = byte("dlm", 0xff);
    const thrIpending = r.bool("thrIpending");
    const rx = r.typed("rx", Uint8Array, { max: RX_CAPACITY });
    r.done();
    this.ier = ier;
    this.fcr = fcr;
    this.lcr = lcr;
    this.mcr = mcr;
    this.lsr = lsr;
    this.msr = msr;
    this.scr = scr;
    this.dll = dll;
    this.dlm = dlm;
    this.thrIpending = thrIpending;
    this.rx.set(rx);
    this.rxHead = 0;
    this.rxCount = rx.length;
    this.irqLevel = this.iir() !== IIR_NO_INT;
    this.irq.set(this.irqLevel);
  }

  private pushRx(b: number): void {
    if (this.rxCount >= this.capacity()) {
      this.lsr |= LSR_OE;
      return;
    }
    this.rx[(this.rxHead + this.rxCount) % RX_CAPACITY] = b;
    this.rxCount++;
    this.lsr |= LSR_DR;
  }

  /** Without FIFOs the 16550 behaves as a 16450 with a one-byte holding register. */
  private capacity(): number {
    return this.fcr & FCR_ENABLE ? RX_CAPACITY : 1;
  }

  private transmit(b: number): void {
    if (this.mcr & MCR_LOOP) {
      // Loopback (datasheet MCR bit 4): the transmitter feeds the receiver, nothing leaves the chip.
      this.pushRx(b);
    } else {
      this.txByte[0] = b;
      this.char.write(this.txByte);
    }
    this.lsr |= LSR_THRE | LSR_TEMT;
    this.thrIpending = true;
    this.updateIrq();
  }

  /** MSR as read: in loopback the modem inputs follow MCR outputs (DTR→DSR, RTS→CTS, OUT1→RI, OUT2→DCD). */
  private msrValue(): number {
    if (!(this.mcr & MCR_LOOP)) return this.msr;
    let v = this.msr & MSR_DELTA;
    if (this.mcr & MCR_DTR) v |= MSR_DSR;
    if (this.mcr & MCR_RTS) v |= MSR_CTS;
    if (this.mcr & MCR_OUT1) v |= MSR_RI;
    if (this.mcr & MCR_OUT2) v |= MSR_DCD;
    return v;
  }

  private noteModemChange(before: number, after: number): void {
    const changed = before ^ after;
    if (changed & MSR_CTS) this.msr |= MSR_DCTS;
    if (changed & MSR_DSR) this.msr |= MSR_DDSR;
    if (changed & MSR_DCD) this.msr |= MSR_DDCD;
    if (before & MSR_RI && !(after & MSR_RI)) this.msr |= MSR_TERI;
  }

  /** Interrupt identification in datasheet priority order. */
  private iir(): number {
    if (this.ier & IER_RLSI && this.lsr & LSR_OE) return IIR_RLSI;
    if (this.ier & IER_RDI && this.rxCount > 0) {
      const fifo = (this.fcr & FCR_ENABLE) !== 0;
      const trigger = fifo ? TRIGGER_LEVELS[this.fcr >>> 6] : 1;
      return this.rxCount >= trigger ? IIR_RDI : IIR_CTI;
    }
    if (this.ier & IER_THRI && this.thrIpending) return IIR_THRI;
    if (this.ier & IER_MSI && this.msr & MSR_DELTA) return IIR_MSI;
    return IIR_NO_INT;
  }

  private updateIrq(): void {
    const level = this.iir() !== IIR_NO_INT;
    if (level !== this.irqLevel) {
      this.irqLevel = level;
      this.irq.set(level);
    }
  }
}
