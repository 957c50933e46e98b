// Exception-flag bits, rounding-mode numbers and format descriptors of the F and D extensions (spec §11.2).

/** fflags bits (unprivileged spec §11.2, Table "Accrued exception flag encoding"). */
export const FLAG_NX = 1; // inexact
export const FLAG_UF = 2; // underflow
export const FLAG_OF = 4; // overflow
export const FLAG_DZ = 8; // divide by zero
export const FLAG_NV = 16; // invalid operation

/** Rounding modes (spec §11.2, Table "Rounding mode encoding"); 7 means "use frm". */
export const RM_RNE = 0;
export const RM_RTZ = 1;
export const RM_RDN = 2;
export const RM_RUP = 3;
export const RM_RMM = 4;
export const RM_DYN = 7;

/** Canonical quiet NaNs (spec §11.3 and §12.3). */
export const CANONICAL_NAN_S = 0x7fc00000;
export const CANONICAL_NAN_D_HI = 0x7ff80000;

/** An IEEE 754 binary interchange format, described by its field widths. */
export interface FloatFormat {
  readonly expBits: number;
  readonly fracBits: number;
  readonly bias: number;
}

export const BINARY32: FloatFormat = { expBits: 8, fracBits: 23, bias: 127 };
export const BINARY64: FloatFormat = { expBits: 11, fracBits: 52, bias: 1023 };
