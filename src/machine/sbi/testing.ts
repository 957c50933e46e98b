/** Test doubles for the SBI: stub harts and a platform over a real GuestRam, shared by the sbi/*.test.ts files. */
import { CSR_MIP } from "../../isa/riscv/csr-names.js";
import { GuestRam } from "../../memory/guest-ram.js";
import { BuiltinSbi } from "./builtin-sbi.js";
import type { SbiHart, SbiPlatform } from "./sbi-call.js";

export const TEST_RAM_BASE = 0x80000000;
export const TEST_RAM_SIZE = 0x10000;
const MASK64 = (1n << 64n) - 1n;

/** A hart with the register and CSR file the SBI touches, recording what was done to it. */
export class StubHart implements SbiHart {
  pc = 0;
  priv = 1;
  stopped = false;
  waitingForInterrupt = false;
  flushes = 0;
  readonly x = new Array<bigint>(32).fill(0n);
  readonly csr = new Map<number, bigint>();
  constructor(readonly hartId: number) {}
  getX(i: number): bigint {
    return i === 0 ? 0n : this.x[i];
  }
  setX(i: number, v: bigint): void {
    // The real Hart keeps 64-bit registers; an out-of-range value here would be an SBI bug.
    if (v < -(1n << 63n) || v > MASK64) throw new Error(`register x${i} set to ${v}`);
    if (i !== 0) this.x[i] = BigInt.asIntN(64, v);
  }
  readCsr(n: number): bigint {
    return this.csr.get(n) ?? 0n;
  }
  writeCsr(n: number, v: bigint): void {
    this.csr.set(n, BigInt.asUintN(64, v));
  }
  setPrivilege(p: number): void {
    this.priv = p;
  }
  setSoftwarePending(bit: number, level: boolean): void {
    const mip = this.csr.get(CSR_MIP) ?? 0n;
    this.csr.set(CSR_MIP, level ? mip | (1n << BigInt(bit)) : mip & ~(1n << BigInt(bit)));
  }
  flushTlb(): void {
    this.flushes++;
  }
}

export interface SbiTestMachine {
  harts: StubHart[];
  ram: GuestRam;
  out: number[];
  input: number[];
  resets: Array<{ type: string; reason: number }>;
  kicks: { n: number };
  platform: SbiPlatform;
  sbi: BuiltinSbi;
  /** Make an ecall from `h`: a7 = eid, a6 = fid, a0.. = args (taken modulo 2^64). Returns a0/a1 as unsigned. */
  call(
    h: StubHart,
    eid: number | bigint,
    fid: number | bigint,
    ...args: bigint[]
  ): { error: bigint; value: bigint };
}

/** A platform like the riscv-virt board's: hart(id) only for valid ids, physSlice through GuestRam.slice. */
export function sbiMachine(hartCount = 2, ramBase = TEST_RAM_BASE): SbiTestMachine {
  const harts = Array.from({ length: hartCount }, (_, i) => new StubHart(i));
  const ram = new GuestRam(ramBase, TEST_RAM_SIZE);
  const out: number[] = [];
  const input: number[] = [];
  const resets: Array<{ type: string; reason: number }> = [];
  const kicks = { n: 0 };
  const platform: SbiPlatform = {
    hartCount,
    hart: (id) => (Number.isInteger(id) && id >= 0 ? harts[id] : undefined),
    mtime: () => 1234,
    consoleWrite: (d) => {
      out.push(...d);
    },
    consoleRead: () => input.shift() ?? -1,
    physSlice: (a, n) => ram.sliceForWrite(a, n),
    systemReset: (type, reason) => {
      resets.push({ type, reason });
    },
    kick: () => {
      kicks.n++;
    },
  };
  const sbi = new BuiltinSbi(platform);
  const call = (h: StubHart, eid: number | bigint, fid: number | bigint, ...args: bigint[]) => {
    for (let i = 0; i < 6; i++) h.setX(10 + i, BigInt.asUintN(64, args[i] ?? 0n));
    h.setX(17, BigInt.asUintN(64, BigInt(eid)));
    h.setX(16, BigInt.asUintN(64, BigInt(fid)));
    if (!sbi.handle(h)) throw new Error("ecall not handled");
    return { error: BigInt.asIntN(64, h.getX(10)), value: BigInt.asUintN(64, h.getX(11)) };
  };
  return { harts, ram, out, input, resets, kicks, platform, sbi, call };
}

/** Interesting 64-bit argument values: edges of RAM, of 32 and 64 bits, and random ones. */
export function hostileU64(next: () => number): bigint {
  const edges = [
    0n,
    1n,
    2n,
    0x7fffffffn,
    0x80000000n,
    0xffffffffn,
    0x1_0000_0000n,
    BigInt(TEST_RAM_BASE),
    BigInt(TEST_RAM_BASE - 1),
    BigInt(TEST_RAM_BASE + TEST_RAM_SIZE),
    BigInt(TEST_RAM_BASE + TEST_RAM_SIZE - 1),
    BigInt(Number.MAX_SAFE_INTEGER),
    BigInt(Number.MAX_SAFE_INTEGER) + 1n,
    1n << 63n,
    MASK64,
    MASK64 - 1n,
  ];
  const r = next() % 4;
  if (r === 0) return edges[next() % edges.length];
  if (r === 1) return BigInt(next());
  if (r === 2) return BigInt(TEST_RAM_BASE + (next() % (TEST_RAM_SIZE + 64)) - 32);
  return (BigInt(next()) << 32n) | BigInt(next());
}
