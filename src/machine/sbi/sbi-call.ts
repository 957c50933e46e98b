/** The SBI calling convention: what an extension handler sees of the calling hart and of the platform. */

/**
 * The parts of a hart the SBI needs. `Hart` (src/cpu/hart.ts) satisfies this structurally; SBI code does
 * not import the CPU so it can be tested against a stub.
 */
export interface SbiHart {
  readonly hartId: number;
  pc: number;
  readonly priv: number;
  stopped: boolean;
  waitingForInterrupt: boolean;
  getX(i: number): bigint;
  setX(i: number, v: bigint): void;
  /** A CSR as M-mode reads it; undefined when the CSR does not exist. */
  readCsr(n: number): bigint | undefined;
  writeCsr(n: number, v: bigint): void;
  /** Set or clear a software-writable mip bit (SSIP/STIP/SEIP) without a read-modify-write. */
  setSoftwarePending(bit: number, level: boolean): void;
  /** Change privilege (and drop any translation state that depends on it). */
  setPrivilege(priv: number): void;
  flushTlb(): void;
}

/** Host services behind the SBI: console, timer, power, and access to guest-physical memory. */
export interface SbiPlatform {
  readonly hartCount: number;
  hart(id: number): SbiHart | undefined;
  /** Current `time` in timebase ticks. */
  mtime(): number;
  consoleWrite(data: Uint8Array): void;
  /** Next byte of console input, or -1 when none is waiting. */
  consoleRead(): number;
  /** A live view of guest-physical memory, or null when [addr, addr+len) is not all RAM. */
  physSlice(addr: number, len: number): Uint8Array | null;
  /** Chapter 10: shutdown, cold reboot or warm reboot. The board stops the run loop. */
  systemReset(type: "shutdown" | "cold-reboot" | "warm-reboot", reason: number): void;
  /** Called after a hart's state changes (HSM start, IPI), so an idle run loop wakes up. */
  kick(): void;
}

/** One SBI call (chapter 3): a7 = EID, a6 = FID, a0..a5 arguments (as unsigned 64-bit). */
export interface SbiCall {
  hart: SbiHart;
  platform: SbiPlatform;
  eid: number;
  fid: number;
  args: bigint[];
}

/**
 * Chapter 3: a0 = error, a1 = value. Legacy calls (chapter 5) return only a0 and leave a1 alone
 * (`value` undefined). `noReturn` means the call does not return to the caller (hart_stop, reset).
 */
export interface SbiRet {
  error: number | bigint;
  value?: bigint;
  noReturn?: boolean;
}

export interface SbiExtension {
  readonly name: string;
  /** The EIDs this handler serves (legacy serves several). */
  readonly eids: readonly number[];
  call(c: SbiCall): SbiRet;
}

export const ret = (error: number, value = 0n): SbiRet => ({ error, value });

/** Registers: a0 is x10 (RISC-V calling convention; SBI spec chapter 3). */
export const REG_A0 = 10;

/** Convert an argument to a safe JS number when it is one, else -1 (never a valid hart id or address). */
export function argNumber(v: bigint): number {
  return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : -1;
}
