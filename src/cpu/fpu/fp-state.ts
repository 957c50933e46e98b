// The architectural state the F/D execution unit reads and writes (RISC-V unprivileged spec, chapters 11–12).

export interface FpState {
  /** Integer registers: x[2*i] = low 32 bits, x[2*i+1] = high 32 bits. x0 is never written. */
  x: Int32Array;
  /** FP registers, raw bits laid out like `x`; singles are NaN-boxed (high half = -1, i.e. 0xffffffff). */
  f: Int32Array;
  /** Accrued exception flags; new flags are ORed in (bit0 NX, 1 UF, 2 OF, 3 DZ, 4 NV). */
  fflags: number;
  /** Dynamic rounding mode (frm CSR field), 0..7. */
  frm: number;
}
