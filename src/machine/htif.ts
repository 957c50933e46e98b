/** The Spike reference simulator's host-target interface (HTIF): `tohost`/`fromhost` words polled in guest RAM. */
/*
 * Protocol (riscv-isa-sim fesvr, as used by riscv-tests and Spike's bare programs):
 *   tohost = device << 56 | cmd << 48 | payload (48 bits)
 *   device 0 (syscall proxy), cmd 0: payload bit 0 set   -> exit with status payload >> 1 (0 = success)
 *                                    payload bit 0 clear -> payload is the physical address of a
 *                                    "magic memory" block of 8 dwords: [which, arg0, arg1, arg2, ...];
 *                                    the result is written back to its first dword.
 *   device 1 (console), cmd 1: write the character payload & 0xff; cmd 0: request one input character,
 *                              answered through fromhost with payload 0x100 | char.
 * After a command the host clears tohost and acknowledges through fromhost (device << 56 | cmd << 48 | 1),
 * once the guest has consumed any earlier fromhost value (it must read 0).
 *
 * Bounds (the guest and the host's stdin are both untrusted): console input waits in a MAX_INPUT-byte
 * FIFO (the rest of a flood is dropped, as a UART drops bytes on overrun); at most MAX_RESPONSES
 * acknowledgements wait for a guest that never clears fromhost (further ones are dropped: fesvr's queue
 * has no bound, but nothing waits for an acknowledgement that far back); and one SYS_write copies at
 * most MAX_WRITE bytes, returning the short count as write(2) may, so one guest command cannot make
 * the host copy the whole of RAM.
 */

import { ByteQueue } from "../base/byte-queue.js";
import { UserError } from "../base/errors.js";
import { TWO_POW_32 } from "../base/u64.js";
import type { CharBackend } from "../io/char-backend.js";
import type { GuestRam } from "../memory/guest-ram.js";

/** Linux-numbered syscalls that the proxy-kernel convention forwards (riscv-pk syscall.h). */
const SYS_WRITE = 64;
const SYS_EXIT = 93;
const ENOSYS = 38;
/** Console input bytes held for the guest; more is dropped until it reads. */
export const HTIF_MAX_INPUT = 64 * 1024;
/** fromhost values queued for a guest that has not cleared fromhost. */
export const HTIF_MAX_RESPONSES = 64;
/** Bytes one proxied SYS_write copies at most (a short write, as write(2) allows). */
export const HTIF_MAX_WRITE = 64 * 1024;

export interface HtifOptions {
  ram: GuestRam;
  /** Physical address of `tohost`. */
  tohost: number;
  /** Physical address of `fromhost`, or null when the program has none (acknowledgements are skipped). */
  fromhost: number | null;
  console: CharBackend;
}

/** Host side of HTIF for one program. The run loop calls poll() between CPU batches. */
export class Htif {
  private readonly ram: GuestRam;
  private readonly tohostOff: number;
  private readonly fromhostOff: number;
  private readonly console: CharBackend;
  /** fromhost values waiting for the guest to clear fromhost (FIFO, like fesvr's response queue). */
  private readonly responses: { hi: number; lo: number }[] = [];
  private readonly input = new ByteQueue(HTIF_MAX_INPUT);
  private pendingReads = 0;
  private inputPaused = false;
  /** Input bytes dropped because the guest was not reading (HTIF_MAX_INPUT). */
  droppedInput = 0;

  constructor(opts: HtifOptions) {
    this.ram = opts.ram;
    this.console = opts.console;
    this.tohostOff = checkWord(opts.ram, opts.tohost, "tohost");
    this.fromhostOff = opts.fromhost === null ? -1 : checkWord(opts.ram, opts.fromhost, "fromhost");
    opts.console.onInput((data) => {
      this.droppedInput += data.length - this.input.push(data);
      // Flow control: ask the host to stop sending while half the queue is waiting (resumed in deliver).
      if (!this.inputPaused && this.input.length >= HTIF_MAX_INPUT / 2) {
        this.inputPaused = true;
        this.console.setInputPaused?.(true);
      }
    });
  }

  /** Console input bytes waiting for the guest to request them. */
  get pendingInput(): number {
    return this.input.length;
  }

  /** fromhost values waiting for the guest to clear fromhost. */
  get pendingResponses(): number {
    return this.responses.length;
  }

  /**
   * Service at most one pending command and deliver queued responses. Returns the exit status when the
   * program asked to end, otherwise null.
   */
  poll(): number | null {
    this.deliver();
    const v = this.ram.view;
    const lo = v.getUint32(this.tohostOff, true);
    const hi = v.getUint32(this.tohostOff + 4, true);
    if (lo === 0 && hi === 0) return null;
    v.setUint32(this.tohostOff, 0, true);
    v.setUint32(this.tohostOff + 4, 0, true);
    this.ram.noteWrite(this.tohostOff, 8);
    const device = hi >>> 24;
    const cmd = (hi >>> 16) & 0xff;
    const payload = (hi & 0xffff) * TWO_POW_32 + lo;
    let exit: number | null = null;
    if (device === 0 && cmd === 0) {
      if (payload % 2 === 1) return Math.floor(payload / 2);
      exit = this.syscall(payload);
      if (exit !== null) return exit;
      this.respond(0, 0, 1);
    } else if (device === 1 && cmd === 1) {
      this.console.write(Uint8Array.of(lo & 0xff));
      this.respond(1, 1, 1);
    } else if (device === 1 && cmd === 0) {
      this.pendingReads++;
    } else {
      // Unknown device or command: fesvr ignores it; acknowledge so a waiting guest does not hang.
      this.respond(device, cmd, 1);
    }
    this.deliver();
    return null;
  }

  /** Proxy-kernel syscall through a magic-memory block; returns an exit status for SYS_exit. */
  private syscall(addr: number): number | null {
    const ram = this.ram;
    if (addr % 8 !== 0 || !ram.contains(addr, 64)) return null; // a bad pointer is ignored, like fesvr's bad-address path
    const off = addr - ram.base;
    const arg = (i: number): number =>
      ram.view.getUint32(off + 8 * i + 4, true) * TWO_POW_32 + ram.view.getUint32(off + 8 * i, true);
    const which = arg(0);
    let ret = -ENOSYS;
    if (which === SYS_EXIT) return arg(1);
    if (which === SYS_WRITE) {
      const fd = arg(1);
      const buf = arg(2);
      const len = Math.min(arg(3), HTIF_MAX_WRITE);
      const bytes = ram.slice(buf, len);
      if ((fd === 1 || fd === 2) && bytes !== null) {
        if (len > 0) this.console.write(bytes.slice());
        ret = len;
      } else {
        ret = bytes === null ? -14 /* EFAULT */ : -9 /* EBADF */;
      }
    }
    ram.view.setUint32(off, ret >>> 0, true);
    ram.view.setUint32(off + 4, ret < 0 ? 0xffffffff : Math.floor(ret / TWO_POW_32), true);
    ram.noteWrite(off, 8);
    return null;
  }

  private respond(device: number, cmd: number, payload: number): void {
    if (this.fromhostOff < 0 || this.responses.length >= HTIF_MAX_RESPONSES) return;
    this.responses.push({ hi: ((device << 24) | (cmd << 16)) >>> 0, lo: payload >>> 0 });
  }

  /** Write the next response once the guest has cleared fromhost; answer console reads when input exists. */
  private deliver(): void {
    if (this.fromhostOff < 0) return;
    // A read is answered only when its response can be queued, so no input byte is lost to a full queue.
    if (this.pendingReads > 0 && this.input.length > 0 && this.responses.length < HTIF_MAX_RESPONSES) {
      this.pendingReads--;
      this.respond(1, 0, 0x100 | this.input.shift());
      if (this.inputPaused && this.input.length < HTIF_MAX_INPUT / 4) {
        this.inputPaused = false;
        this.console.setInputPaused?.(false);
      }
    }
    const v = this.ram.view;
    if (this.responses.length === 0) return;
    if (v.getUint32(this.fromhostOff, true) !== 0 || v.getUint32(this.fromhostOff + 4, true) !== 0) return;
    const r = this.responses.shift() as { hi: number; lo: number };
    v.setUint32(this.fromhostOff, r.lo, true);
    v.setUint32(this.fromhostOff + 4, r.hi, true);
    this.ram.noteWrite(this.fromhostOff, 8);
  }
}

function checkWord(ram: GuestRam, addr: number, name: string): number {
  if (addr % 8 !== 0 || !ram.contains(addr, 8)) {
    throw new UserError(`${name} at 0x${addr.toString(16)} is not an aligned 8-byte word in RAM`);
  }
  return addr - ram.base;
}
