/**
 * Test-only: builds tiny bare RISC-V programs (ELF64, M-mode at 0x80000000, HTIF `tohost` at +0x1000 and
 * `fromhost` at +0x1008) from hand-encoded instructions, so hostile-input tests need no toolchain and no
 * fixture files. Encodings follow the RISC-V unprivileged spec, chapter 2 (base formats) and 34 (opcode map).
 */

export const BARE_BASE = 0x80000000;
export const TOHOST_OFFSET = 0x1000;

const OP_IMM = 0x13;
const AUIPC = 0x17;
const STORE = 0x23;
const LOAD = 0x03;
const BRANCH = 0x63;
const JAL = 0x6f;

export const T0 = 5;
export const T1 = 6;
export const T2 = 7;

export function addi(rd: number, rs1: number, imm: number): number {
  return (((imm & 0xfff) << 20) | (rs1 << 15) | (rd << 7) | OP_IMM) >>> 0;
}
export function slli(rd: number, rs1: number, shamt: number): number {
  return ((shamt << 20) | (rs1 << 15) | (1 << 12) | (rd << 7) | OP_IMM) >>> 0;
}
export function auipc(rd: number, imm20: number): number {
  return ((imm20 << 12) | (rd << 7) | AUIPC) >>> 0;
}
export function sd(rs2: number, rs1: number, imm: number): number {
  return (
    ((((imm >> 5) & 0x7f) << 25) | (rs2 << 20) | (rs1 << 15) | (3 << 12) | ((imm & 0x1f) << 7) | STORE) >>> 0
  );
}
export function ld(rd: number, rs1: number, imm: number): number {
  return (((imm & 0xfff) << 20) | (rs1 << 15) | (3 << 12) | (rd << 7) | LOAD) >>> 0;
}
/** bne rs1, rs2, off (off relative to this instruction, even). */
export function bne(rs1: number, rs2: number, off: number): number {
  const i = off & 0x1fff;
  return (
    ((((i >> 12) & 1) << 31) |
      (((i >> 5) & 0x3f) << 25) |
      (rs2 << 20) |
      (rs1 << 15) |
      (1 << 12) |
      (((i >> 1) & 0xf) << 8) |
      (((i >> 11) & 1) << 7) |
      BRANCH) >>>
    0
  );
}
/** jal x0, off: a jump relative to this instruction. */
export function j(off: number): number {
  const i = off & 0x1fffff;
  return (
    ((((i >> 20) & 1) << 31) |
      (((i >> 1) & 0x3ff) << 21) |
      (((i >> 11) & 1) << 20) |
      (((i >> 12) & 0xff) << 12) |
      JAL) >>>
    0
  );
}

/** A program that prints 'x' through HTIF's console (device 1, command 1) forever. */
export function printForever(): number[] {
  return [
    auipc(T0, 1), // t0 = tohost (the code starts at BARE_BASE, tohost is one page on)
    addi(T1, 0, 0x101),
    slli(T1, T1, 48),
    addi(T1, T1, 0x78), // t1 = device 1 << 56 | command 1 << 48 | 'x'
    sd(T1, T0, 0), // loop: tohost = t1
    ld(T2, T0, 0), // wait: until the host clears tohost
    bne(T2, 0, -4),
    j(-12), // back to the store
  ];
}

export function lui(rd: number, imm20: number): number {
  return ((imm20 << 12) | (rd << 7) | 0x37) >>> 0;
}

/** A program that counts down from `iterations << 12` without reading input, then exits 0 through HTIF. */
export function spinThenExit(iterations: number): number[] {
  return [
    lui(T0, iterations), // t0 = iterations << 12
    addi(T0, T0, -1), // loop
    bne(T0, 0, -4),
    auipc(T1, 1), // t1 = this pc + 0x1000 = BARE_BASE + 12 + 0x1000
    addi(T2, 0, 1), // exit status 0: payload 1
    sd(T2, T1, -12), // tohost
    j(0),
  ];
}

/** A program that spins forever and never reads its input. */
export function spinForever(): number[] {
  return [j(0)];
}

/** An ELF64 RISC-V executable: `code` at BARE_BASE in one PT_LOAD segment that also covers tohost/fromhost. */
export function bareElf(code: number[]): Uint8Array {
  const strtab = new TextEncoder().encode("\0tohost\0fromhost\0");
  const phoff = 64;
  const codeOff = phoff + 56;
  const symOff = codeOff + code.length * 4;
  const strOff = symOff + 3 * 24;
  const shoff = (strOff + strtab.length + 7) & ~7;
  const b = new Uint8Array(shoff + 3 * 64);
  const dv = new DataView(b.buffer);
  b.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
  dv.setUint16(16, 2, true); // ET_EXEC
  dv.setUint16(18, 243, true); // EM_RISCV
  dv.setUint32(20, 1, true);
  dv.setBigUint64(24, BigInt(BARE_BASE), true);
  dv.setBigUint64(32, BigInt(phoff), true);
  dv.setBigUint64(40, BigInt(shoff), true);
  dv.setUint16(52, 64, true);
  dv.setUint16(54, 56, true);
  dv.setUint16(56, 1, true);
  dv.setUint16(58, 64, true);
  dv.setUint16(60, 3, true);
  dv.setUint32(phoff, 1, true); // PT_LOAD
  dv.setUint32(phoff + 4, 7, true);
  dv.setBigUint64(phoff + 8, BigInt(codeOff), true);
  dv.setBigUint64(phoff + 16, BigInt(BARE_BASE), true);
  dv.setBigUint64(phoff + 24, BigInt(BARE_BASE), true);
  dv.setBigUint64(phoff + 32, BigInt(code.length * 4), true);
  dv.setBigUint64(phoff + 40, BigInt(TOHOST_OFFSET + 16), true);
  code.forEach((w, i) => {
    dv.setUint32(codeOff + 4 * i, w, true);
  });
  const sym = (k: number, name: number, value: number) => {
    dv.setUint32(symOff + 24 * k, name, true);
    dv.setUint16(symOff + 24 * k + 6, 1, true);
    dv.setBigUint64(symOff + 24 * k + 8, BigInt(value), true);
  };
  sym(1, 1, BARE_BASE + TOHOST_OFFSET);
  sym(2, 8, BARE_BASE + TOHOST_OFFSET + 8);
  b.set(strtab, strOff);
  const sh = (i: number, type: number, off: number, size: number, link: number, entsize: number) => {
    const s = shoff + 64 * i;
    dv.setUint32(s + 4, type, true);
    dv.setBigUint64(s + 24, BigInt(off), true);
    dv.setBigUint64(s + 32, BigInt(size), true);
    dv.setUint32(s + 40, link, true);
    dv.setBigUint64(s + 56, BigInt(entsize), true);
  };
  sh(1, 2, symOff, 3 * 24, 2, 24); // SHT_SYMTAB
  sh(2, 3, strOff, strtab.length, 0, 0); // SHT_STRTAB
  return b;
}
