/** A few RV64 instruction encoders for hand-written test programs (unprivileged spec 20191213, ch. 2 and 24). */

const r = (f7: number, rs2: number, rs1: number, f3: number, rd: number, op: number) =>
  (f7 << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op | 0;
const i = (imm: number, rs1: number, f3: number, rd: number, op: number) =>
  ((imm & 0xfff) << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op | 0;
const s = (imm: number, rs2: number, rs1: number, f3: number, op: number) =>
  (((imm >> 5) & 0x7f) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | ((imm & 31) << 7) | op | 0;

export const addi = (rd: number, rs1: number, imm: number) => i(imm, rs1, 0, rd, 0x13);
export const add = (rd: number, rs1: number, rs2: number) => r(0, rs2, rs1, 0, rd, 0x33);
export const lw = (rd: number, rs1: number, imm: number) => i(imm, rs1, 2, rd, 0x03);
export const ld = (rd: number, rs1: number, imm: number) => i(imm, rs1, 3, rd, 0x03);
export const sw = (rs2: number, rs1: number, imm: number) => s(imm, rs2, rs1, 2, 0x23);
export const sd = (rs2: number, rs1: number, imm: number) => s(imm, rs2, rs1, 3, 0x23);
export const auipc = (rd: number, imm20: number) => (imm20 << 12) | (rd << 7) | 0x17 | 0;
export const jalr = (rd: number, rs1: number, imm: number) => i(imm, rs1, 0, rd, 0x67);
export const fenceI = () => 0x0000100f;
export const csrrs = (rd: number, csr: number, rs1: number) => i(csr, rs1, 2, rd, 0x73);

export function jal(rd: number, off: number): number {
  return (
    (((off >> 20) & 1) << 31) |
    (((off >> 1) & 0x3ff) << 21) |
    (((off >> 11) & 1) << 20) |
    (((off >> 12) & 0xff) << 12) |
    (rd << 7) |
    0x6f
  );
}

function branch(f3: number, rs1: number, rs2: number, off: number): number {
  return (
    (((off >> 12) & 1) << 31) |
    (((off >> 5) & 0x3f) << 25) |
    (rs2 << 20) |
    (rs1 << 15) |
    (f3 << 12) |
    (((off >> 1) & 0xf) << 8) |
    (((off >> 11) & 1) << 7) |
    0x63
  );
}
export const beq = (rs1: number, rs2: number, off: number) => branch(0, rs1, rs2, off);
export const bne = (rs1: number, rs2: number, off: number) => branch(1, rs1, rs2, off);

/** Register numbers. */
export const ZERO = 0;
export const RA = 1;
export const T0 = 5;
export const T1 = 6;
export const S0 = 8;
export const A0 = 10;
export const A1 = 11;
export const A2 = 12;
