# RV64F/D: mstatus.FS gating and Dirty tracking, FP loads/stores (aligned and misaligned), NaN-boxing,
# fcsr/frm/fflags, static and dynamic rounding (invalid modes trap), and exact results with accrued flags
# for arithmetic, sqrt, fused multiply-add, conversions, min/max, compares, classify and sign injection.
#include "test.h"

#define FS_SHIFT   13
#define FS_MASK    (3 << FS_SHIFT)
#define SD_BIT     63
#define NV 0x10
#define DZ 0x08
#define OF 0x04
#define UF 0x02
#define NX 0x01
/* A single-precision result as read by fmv.x.d: NaN-boxed (upper 32 bits all ones). */
#define BOX(x) (0xffffffff00000000 | (x))

/*
 * Case number only (no test_N label): consecutive checks of one kind share a number so that the
 * program stays under 256 cases (QEMU's exit status, i.e. the reported case, is 8 bits wide).
 */
#define CASE(n) li gp, n

/* mstatus.FS = v (0 Off, 1 Initial, 2 Clean, 3 Dirty). */
#define SET_FS(v) li t0, FS_MASK; csrc mstatus, t0; li t0, (v) << FS_SHIFT; csrs mstatus, t0
/* Case n: mstatus.FS (through CSR `csr`) == v and bit 63 (SD) == sd. */
#define CHECK_FS(n, csr, v, sd)        \
  CASE(n);                             \
  csrr x14, csr;                       \
  srli x15, x14, FS_SHIFT;             \
  andi x15, x15, 3;                    \
  li x7, v;                            \
  bne x15, x7, fail;                   \
  srli x15, x14, SD_BIT;               \
  li x7, sd;                           \
  bne x15, x7, fail

#define LDD(f, v) li x11, v; fmv.d.x f, x11
#define LDS(f, v) li x11, v; fmv.w.x f, x11

/* Case n: run `code` with fflags cleared; f3 (all 64 bits) must equal result and fflags must equal flags. */
#define FCHECK(n, result, flags, code...) \
  CASE(n);                             \
  fsflagsi 0;                          \
  code;                                \
  fmv.x.d x14, f3;                     \
  frflags x15;                         \
  li x7, result;                       \
  bne x14, x7, fail;                   \
  li x7, flags;                        \
  bne x15, x7, fail
/* Same with an integer result in x14. */
#define XCHECK(n, result, flags, code...) \
  CASE(n);                             \
  fsflagsi 0;                          \
  code;                                \
  frflags x15;                         \
  li x7, result;                       \
  bne x14, x7, fail;                   \
  li x7, flags;                        \
  bne x15, x7, fail

#define TEST_D2(n, inst, rm, result, flags, a, b) FCHECK(n, result, flags, LDD(f1, a); LDD(f2, b); inst f3, f1, f2, rm)
#define TEST_S2(n, inst, rm, result, flags, a, b) FCHECK(n, BOX(result), flags, LDS(f1, a); LDS(f2, b); inst f3, f1, f2, rm)
#define TEST_D2N(n, inst, result, flags, a, b) FCHECK(n, result, flags, LDD(f1, a); LDD(f2, b); inst f3, f1, f2)
#define TEST_S2N(n, inst, result, flags, a, b) FCHECK(n, BOX(result), flags, LDS(f1, a); LDS(f2, b); inst f3, f1, f2)
#define TEST_D1(n, inst, rm, result, flags, a) FCHECK(n, result, flags, LDD(f1, a); inst f3, f1, rm)
#define TEST_S1(n, inst, rm, result, flags, a) FCHECK(n, BOX(result), flags, LDS(f1, a); inst f3, f1, rm)
#define TEST_D3(n, inst, result, flags, a, b, c) \
  FCHECK(n, result, flags, LDD(f1, a); LDD(f2, b); LDD(f4, c); inst f3, f1, f2, f4)
#define TEST_S3(n, inst, result, flags, a, b, c) \
  FCHECK(n, BOX(result), flags, LDS(f1, a); LDS(f2, b); LDS(f4, c); inst f3, f1, f2, f4)
/* FP -> integer (fcvt.w/l[u]) with a rounding mode, and compare/classify without one. */
#define TEST_DX(n, inst, rm, result, flags, a) XCHECK(n, result, flags, LDD(f1, a); inst x14, f1, rm)
#define TEST_SX(n, inst, rm, result, flags, a) XCHECK(n, result, flags, LDS(f1, a); inst x14, f1, rm)
#define TEST_DCMP(n, inst, result, flags, a, b) XCHECK(n, result, flags, LDD(f1, a); LDD(f2, b); inst x14, f1, f2)
#define TEST_SCMP(n, inst, result, flags, a, b) XCHECK(n, result, flags, LDS(f1, a); LDS(f2, b); inst x14, f1, f2)
#define TEST_DCLASS(n, result, a) XCHECK(n, result, 0, LDD(f1, a); fclass.d x14, f1)
#define TEST_SCLASS(n, result, a) XCHECK(n, result, 0, LDS(f1, a); fclass.s x14, f1)
/* Integer -> FP. */
#define TEST_XD(n, inst, rm, result, flags, a) FCHECK(n, result, flags, li x11, a; inst f3, x11, rm)
#define TEST_XS(n, inst, rm, result, flags, a) FCHECK(n, BOX(result), flags, li x11, a; inst f3, x11, rm)

/* Double constants. */
#define D_ONE   0x3ff0000000000000
#define D_MONE  0xbff0000000000000
#define D_TWO   0x4000000000000000
#define D_MTWO  0xc000000000000000
#define D_THREE 0x4008000000000000
#define D_HALF  0x3fe0000000000000
#define D_MHALF 0xbfe0000000000000
#define D_ZERO  0x0000000000000000
#define D_MZERO 0x8000000000000000
#define D_INF   0x7ff0000000000000
#define D_MINF  0xfff0000000000000
#define D_QNAN  0x7ff8000000000000
#define D_SNAN  0x7ff0000000000001
#define D_MAX   0x7fefffffffffffff
#define D_MMAX  0xffefffffffffffff
/* Single constants. */
#define S_ONE   0x3f800000
#define S_MONE  0xbf800000
#define S_TWO   0x40000000
#define S_MTWO  0xc0000000
#define S_THREE 0x40400000
#define S_HALF  0x3f000000
#define S_ZERO  0x00000000
#define S_MZERO 0x80000000
#define S_INF   0x7f800000
#define S_MINF  0xff800000
#define S_QNAN  0x7fc00000
#define S_SNAN  0x7f800001
#define S_MAX   0x7f7fffff

CODE_BEGIN

  # ======== mstatus.FS = Off: every FP instruction and FP CSR access is illegal ========
  SET_FS(0)
  CHECK_FS(1, mstatus, 0, 0)
  la x11, fdata
  TEST_ILLEGAL(2, fadd.d f3, f1, f2)
  TEST_ILLEGAL(3, fadd.s f3, f1, f2, rtz)
  TEST_ILLEGAL(4, fmadd.s f3, f1, f2, f4)
  TEST_ILLEGAL(5, fnmsub.d f3, f1, f2, f4)
  TEST_ILLEGAL(6, flw f1, 0(x11))
  TEST_ILLEGAL(7, fld f1, 0(x11))
  TEST_ILLEGAL(8, fsw f1, 0(x11))
  TEST_ILLEGAL(9, fsd f1, 0(x11))
  TEST_ILLEGAL(10, fmv.x.d x14, f1)
  TEST_ILLEGAL(11, fmv.w.x f1, x0)
  TEST_ILLEGAL(12, feq.d x14, f1, f2)
  TEST_ILLEGAL(13, fclass.s x14, f1)
  TEST_ILLEGAL(14, fcvt.w.d x14, f1, rtz)
  TEST_ILLEGAL(15, fsgnj.d f3, f1, f2)
  TEST_ILLEGAL(16, frcsr x14)
  TEST_ILLEGAL(17, fscsr x0)
  TEST_ILLEGAL(18, frrm x14)
  TEST_ILLEGAL(19, fsrmi 1)
  TEST_ILLEGAL(20, frflags x14)
  TEST_ILLEGAL(21, csrrs x14, fflags, x0)
  TEST_ILLEGAL(22, fsflagsi 0)
  # Nothing above changed FS or SD.
  CHECK_FS(23, mstatus, 0, 0)

  # ======== FS = Initial: FP instructions run; a write makes FS Dirty and sets SD ========
  SET_FS(1)
  CHECK_FS(24, mstatus, 1, 0)
  CHECK_FS(25, sstatus, 1, 0)
  # (FS after these reads is not asserted: the spec only requires Dirty after a modification)
  TEST_NO_TRAP(26, frcsr x14; fmv.x.d x14, f1; feq.d x14, f1, f1)
  SET_FS(1)
  TEST_NO_TRAP(27, li x11, D_ONE; fmv.d.x f1, x11; fadd.d f3, f1, f1, rne; fmv.x.d x14, f3; li x7, D_TWO; bne x14, x7, fail)
  CHECK_FS(28, mstatus, 3, 1)
  CHECK_FS(29, sstatus, 3, 1)
  # Clean -> Dirty by an FP load, by an fcsr write, by an integer->FP move.
  SET_FS(2)
  CHECK_FS(30, mstatus, 2, 0)
  CHECK_FS(31, sstatus, 2, 0)
  la x11, fdata
  flw f5, 0(x11)
  CHECK_FS(32, mstatus, 3, 1)
  SET_FS(2)
  fsflagsi 0
  CHECK_FS(33, mstatus, 3, 1)
  SET_FS(2)
  fmv.d.x f5, x0
  CHECK_FS(34, sstatus, 3, 1)
  # FS is writable through sstatus too.
  li t0, FS_MASK
  csrc sstatus, t0
  CHECK_FS(35, mstatus, 0, 0)
  TEST_ILLEGAL(36, fmv.d.x f1, x0)
  li t0, 3 << FS_SHIFT
  csrs sstatus, t0
  CHECK_FS(37, mstatus, 3, 1)
  fsrmi 0

  # ======== FP loads and stores: offsets, NaN-boxing, store widths ========
  FCHECK(38, BOX(0x3f800000), 0, la x12, fdata + 16; flw f3, -16(x12))
  FCHECK(39, BOX(0xc0490fdb), 0, la x12, fdata; flw f3, 4(x12))
  FCHECK(40, 0x400921fb54442d18, 0, la x12, fdata; fld f3, 8(x12))
  FCHECK(41, 0xfedcba9876543210, 0, la x12, fdata + 24; fld f3, -8(x12))
  FCHECK(42, BOX(0x76543210), 0, la x12, fdata + 24; flw f3, -8(x12))
  CASE(43)                                # fsd, positive and negative offsets
  la x12, sbuf
  li x11, 0x0123456789abcdef
  fmv.d.x f1, x11
  fsd f1, 8(x12)
  li x11, 0x1122334455667788
  fmv.d.x f2, x11
  addi x13, x12, 16
  fsd f2, -16(x13)
  ld x14, 8(x12)
  li x7, 0x0123456789abcdef
  bne x14, x7, fail
  ld x14, 0(x12)
  li x7, 0x1122334455667788
  bne x14, x7, fail
  CASE(44)                                # fsw stores only the low 32 bits (no NaN-box check on stores)
  la x12, sbuf
  li x11, 0x0123456789abcdef
  fmv.d.x f1, x11
  fsw f1, 4(x12)
  li x11, 0xffffffffcafef00d
  fmv.d.x f2, x11
  addi x13, x12, 8
  fsw f2, -8(x13)
  ld x14, 0(x12)
  li x7, 0x89abcdefcafef00d
  bne x14, x7, fail
  ld x14, 8(x12)
  li x7, 0x0123456789abcdef
  bne x14, x7, fail
  CASE(45)                                # fld/fsd round-trip a signalling NaN bit-exactly, no flags
  fsflagsi 0
  la x12, sbuf
  li x11, 0x7ff0000000000001
  sd x11, 16(x12)
  fld f1, 16(x12)
  fsd f1, 24(x12)
  ld x14, 24(x12)
  bne x14, x11, fail
  frflags x15
  bnez x15, fail
  CASE(46)                                # flw/fsw round-trip a single sNaN bit-exactly
  li x11, 0x7f800001
  sw x11, 16(x12)
  flw f1, 16(x12)
  fmv.x.d x14, f1
  li x7, BOX(0x7f800001)
  bne x14, x7, fail
  fsw f1, 20(x12)
  lwu x14, 20(x12)
  bne x14, x11, fail
  frflags x15
  bnez x15, fail

  # ---- NaN-boxing of single values ----
  FCHECK(47, BOX(0x12345678), 0, li x11, 0xabcdef0012345678; fmv.w.x f3, x11)   # fmv.w.x boxes
  FCHECK(48, BOX(0x40400000), 0, LDS(f1, S_ONE); LDS(f2, S_TWO); fadd.s f3, f1, f2) # results boxed
  FCHECK(49, BOX(0x3eaaaaab), NX, LDD(f1, 0x3fd5555555555555); fcvt.s.d f3, f1)
  # fmv.x.w moves the low 32 bits (sign-extended) whatever the upper half holds
  XCHECK(50, 0xffffffff87654321, 0, LDD(f1, 0x1234567887654321); fmv.x.w x14, f1)
  XCHECK(51, 0x0000000012345678, 0, LDD(f1, 0x0000000012345678); fmv.x.w x14, f1)
  # A single-precision operand that is not NaN-boxed reads as the canonical NaN (a quiet NaN: no NV),
  # even when its low half is a signalling NaN or an ordinary number.
  FCHECK(52, BOX(S_QNAN), 0, LDD(f1, 0x000000003f800000); LDS(f2, S_ONE); fadd.s f3, f1, f2)
  FCHECK(53, BOX(S_QNAN), 0, LDD(f1, 0x000000007f800001); LDS(f2, S_ONE); fmul.s f3, f2, f1)
  FCHECK(54, BOX(S_QNAN), 0, LDD(f1, 0xfffffffe3f800000); LDS(f2, S_ONE); fsub.s f3, f1, f2)
  FCHECK(55, BOX(S_QNAN), 0, LDD(f1, 0x7ff0000000000000); fsqrt.s f3, f1)
  FCHECK(56, BOX(S_ONE), 0, LDD(f1, 0x000000003f800000); LDS(f2, S_ONE); fmin.s f3, f1, f2)
  FCHECK(57, BOX(S_QNAN), 0, LDD(f1, 0x000000003f800000); LDS(f2, S_ONE); fsgnj.s f3, f1, f2)
  FCHECK(58, BOX(0xffc00000), 0, LDD(f1, 0x000000003f800000); LDS(f2, S_ONE); fsgnjn.s f3, f1, f2)
  FCHECK(59, BOX(0xbf800000), 0, LDD(f2, 0x00000000bf800000); LDS(f1, S_MONE); fsgnjx.s f3, f1, f2)
  FCHECK(60, BOX(S_QNAN), 0, LDD(f1, 0x00000000bf800000); fmv.s f3, f1)
  FCHECK(61, D_QNAN, 0, LDD(f1, 0x000000007f800001); fcvt.d.s f3, f1)
  XCHECK(62, 0x200, 0, LDD(f1, 0x000000003f800000); fclass.s x14, f1)
  XCHECK(63, 0, 0, LDD(f1, 0x000000003f800000); feq.s x14, f1, f1)
  XCHECK(64, 0x7fffffff, NV, LDD(f1, 0x00000000bf800000); fcvt.w.s x14, f1, rtz)
  FCHECK(65, BOX(S_QNAN), 0, LDD(f1, 0x000000003f800000); LDS(f2, S_ONE); LDS(f4, S_ONE); fmadd.s f3, f2, f4, f1)

  # ======== fcsr / frm / fflags ========
  CASE(66)
  li x11, 0xff
  fscsr x14, x11
  frcsr x14
  li x7, 0xff
  bne x14, x7, fail
  frrm x14
  li x7, 7
  bne x14, x7, fail
  frflags x14
  li x7, 0x1f
  bne x14, x7, fail
  CASE(67)                                # bits 31:8 of fcsr ignore writes and read zero
  li x11, -1
  fscsr x11
  frcsr x14
  li x7, 0xff
  bne x14, x7, fail
  CASE(68)                                # writing fflags leaves frm alone
  fsflagsi 0
  frcsr x14
  li x7, 0xe0
  bne x14, x7, fail
  li x11, 0xff
  fsflags x14, x11                       # old fflags returned; only 5 bits kept
  bnez x14, fail
  frcsr x14
  li x7, 0xff
  bne x14, x7, fail
  CASE(69)                                # writing frm leaves fflags alone
  fsflagsi 0x15
  fsrmi x14, 2
  li x7, 7
  bne x14, x7, fail
  frcsr x14
  li x7, 0x55
  bne x14, x7, fail
  li x11, 0xfd                           # only 3 bits kept
  fsrm x14, x11
  li x7, 2
  bne x14, x7, fail
  frrm x14
  li x7, 5
  bne x14, x7, fail
  frflags x14
  li x7, 0x15
  bne x14, x7, fail
  CASE(70)                                # fcsr write sets both fields; csrs/csrc on fflags and frm
  li x11, 0x83
  csrw fcsr, x11
  frrm x14
  li x7, 4
  bne x14, x7, fail
  csrsi fflags, 0x8
  csrci fflags, 0x1
  frflags x14
  li x7, 0xa
  bne x14, x7, fail
  csrci frm, 4
  csrsi frm, 1
  frcsr x14
  li x7, 0x2a
  bne x14, x7, fail
  CASE(71)                                # flags accrue (OR) and are never cleared by operations
  fsrmi 0
  fsflagsi 0
  LDD(f1, D_ONE)
  LDD(f2, D_ZERO)
  LDD(f4, D_THREE)
  fdiv.d f3, f1, f2                      # DZ
  fdiv.d f3, f1, f4                      # NX
  fadd.d f3, f1, f1                      # exact
  frflags x14
  li x7, DZ | NX
  bne x14, x7, fail
  frcsr x14
  li x7, DZ | NX
  bne x14, x7, fail

  # ======== rounding: dynamic (rm=7) follows frm; static rm overrides it ========
#define DYN_S(n, mode, inst, result, a, b) FCHECK(n, BOX(result), NX, fsrmi mode; LDS(f1, a); LDS(f2, b); inst f3, f1, f2, dyn)
  DYN_S(72, 0, fdiv.s, 0x3eaaaaab, S_ONE, S_THREE)
  DYN_S(73, 1, fdiv.s, 0x3eaaaaaa, S_ONE, S_THREE)
  DYN_S(74, 2, fdiv.s, 0xbeaaaaab, S_MONE, S_THREE)
  DYN_S(75, 3, fdiv.s, 0x3eaaaaab, S_ONE, S_THREE)
  DYN_S(76, 3, fdiv.s, 0xbeaaaaaa, S_MONE, S_THREE)
  DYN_S(77, 4, fadd.s, 0x3f800001, S_ONE, 0x33800000)
  DYN_S(78, 0, fadd.s, 0x3f800000, S_ONE, 0x33800000)
  FCHECK(79, 0x3fd5555555555556, NX, fsrmi 3; LDD(f1, D_ONE); LDD(f2, D_THREE); fdiv.d f3, f1, f2)
  FCHECK(80, 0x3fd5555555555555, NX, fsrmi 3; LDD(f1, D_ONE); LDD(f2, D_THREE); fdiv.d f3, f1, f2, rtz)
  XCHECK(81, -1, NX, fsrmi 2; LDD(f1, D_MHALF); fcvt.w.d x14, f1)
  XCHECK(82, 0, NX, fsrmi 2; LDD(f1, D_MHALF); fcvt.w.d x14, f1, rup)
  FCHECK(83, BOX(0x4b800001), NX, fsrmi 3; li x11, 16777217; fcvt.s.w f3, x11)
  FCHECK(84, 0x3ff6a09e667f3bcc, NX, fsrmi 1; LDD(f1, D_TWO); fsqrt.d f3, f1)
  FCHECK(85, BOX(0x3fc00000), 0, fsrmi 1; LDS(f1, S_ONE); LDS(f2, S_HALF); LDS(f4, S_ONE); fmadd.s f3, f1, f2, f4)

  # ---- an invalid frm (5, 6, 7) makes every dynamic-rounding instruction illegal ----
  LDD(f1, D_ONE)
  LDD(f2, D_THREE)
  LDD(f4, D_ONE)
  fsrmi 5
  TEST_ILLEGAL(86, fadd.s f3, f1, f2)
  TEST_ILLEGAL(87, fdiv.d f3, f1, f2, dyn)
  TEST_ILLEGAL(88, fmadd.d f3, f1, f2, f4)
  TEST_ILLEGAL(89, fcvt.w.d x14, f1)
  TEST_ILLEGAL(90, fcvt.s.d f3, f1)
  TEST_ILLEGAL(91, fsqrt.s f3, f1)
  # instructions with a static rm or none at all still run
  TEST_NO_TRAP(92, fdiv.d f3, f1, f2, rtz; fsgnj.d f3, f1, f2; fmin.d f3, f1, f2; feq.d x14, f1, f2; fclass.d x14, f1; fmv.x.d x14, f1; fsflagsi 0)
  fsrmi 6
  TEST_ILLEGAL(93, fmul.d f3, f1, f2)
  TEST_ILLEGAL(94, fnmadd.s f3, f1, f2, f4)
  fsrmi 7
  TEST_ILLEGAL(95, fsub.d f3, f1, f2)
  TEST_ILLEGAL(96, fcvt.d.l f3, x0)
  TEST_NO_TRAP(97, fadd.d f3, f1, f2, rne)
  fsrmi 0
  TEST_NO_TRAP(98, fadd.d f3, f1, f2)
  # ---- static rm = 5 or 6 is illegal whatever frm holds ----
  TEST_ILLEGAL(99, .insn r 0x53, 5, 0x00, f3, f1, f2)          # fadd.s rm=5
  TEST_ILLEGAL(100, .insn r 0x53, 6, 0x01, f3, f1, f2)          # fadd.d rm=6
  TEST_ILLEGAL(101, .insn r 0x53, 5, 0x0d, f3, f1, f2)          # fdiv.d rm=5
  TEST_ILLEGAL(102, .insn r4 0x43, 6, 1, f3, f1, f2, f4)        # fmadd.d rm=6
  TEST_ILLEGAL(103, .word 0xc200d753)                           # fcvt.w.d x14, f1, rm=5
  TEST_ILLEGAL(104, .insn r 0x53, 6, 0x2d, f3, f1, f0)          # fsqrt.d rm=6
  TEST_ILLEGAL(105, .insn r 0x53, 5, 0x21, f3, f1, f0)          # fcvt.d.s rm=5
  fsrmi 0

  # ======== arithmetic: exact bits and flags under each rounding mode ========
  # 1/3 and -1/3
  TEST_S2(106, fdiv.s, rne, 0x3eaaaaab, NX, S_ONE, S_THREE)
  TEST_S2(106, fdiv.s, rtz, 0x3eaaaaaa, NX, S_ONE, S_THREE)
  TEST_S2(106, fdiv.s, rdn, 0x3eaaaaaa, NX, S_ONE, S_THREE)
  TEST_S2(106, fdiv.s, rup, 0x3eaaaaab, NX, S_ONE, S_THREE)
  TEST_S2(106, fdiv.s, rmm, 0x3eaaaaab, NX, S_ONE, S_THREE)
  TEST_S2(107, fdiv.s, rne, 0xbeaaaaab, NX, S_MONE, S_THREE)
  TEST_S2(107, fdiv.s, rtz, 0xbeaaaaaa, NX, S_MONE, S_THREE)
  TEST_S2(107, fdiv.s, rdn, 0xbeaaaaab, NX, S_MONE, S_THREE)
  TEST_S2(107, fdiv.s, rup, 0xbeaaaaaa, NX, S_MONE, S_THREE)
  TEST_S2(107, fdiv.s, rmm, 0xbeaaaaab, NX, S_MONE, S_THREE)
  TEST_D2(108, fdiv.d, rne, 0x3fd5555555555555, NX, D_ONE, D_THREE)
  TEST_D2(108, fdiv.d, rtz, 0x3fd5555555555555, NX, D_ONE, D_THREE)
  TEST_D2(108, fdiv.d, rdn, 0x3fd5555555555555, NX, D_ONE, D_THREE)
  TEST_D2(108, fdiv.d, rup, 0x3fd5555555555556, NX, D_ONE, D_THREE)
  TEST_D2(108, fdiv.d, rmm, 0x3fd5555555555555, NX, D_ONE, D_THREE)
  TEST_D2(108, fdiv.d, rdn, 0xbfd5555555555556, NX, D_MONE, D_THREE)
  TEST_D2(108, fdiv.d, rup, 0xbfd5555555555555, NX, D_MONE, D_THREE)
  # ties: 1 + 2^-24 (single) and 1 + 2^-53 (double) are halfway; 1 + 3*2^-53 ties to the even upper neighbour
  TEST_S2(109, fadd.s, rne, 0x3f800000, NX, S_ONE, 0x33800000)
  TEST_S2(109, fadd.s, rmm, 0x3f800001, NX, S_ONE, 0x33800000)
  TEST_S2(109, fadd.s, rup, 0x3f800001, NX, S_ONE, 0x33800000)
  TEST_S2(109, fadd.s, rdn, 0x3f800000, NX, S_ONE, 0x33800000)
  TEST_D2(110, fadd.d, rne, 0x3ff0000000000000, NX, D_ONE, 0x3ca0000000000000)
  TEST_D2(110, fadd.d, rmm, 0x3ff0000000000001, NX, D_ONE, 0x3ca0000000000000)
  TEST_D2(110, fadd.d, rne, 0x3ff0000000000002, NX, 0x3ff0000000000001, 0x3ca0000000000000)
  TEST_D2(110, fadd.d, rtz, 0x3ff0000000000001, NX, 0x3ff0000000000001, 0x3ca0000000000000)
  # exact zero sum: +0, except -0 under RDN
  TEST_D2(111, fsub.d, rne, D_ZERO, 0, D_ONE, D_ONE)
  TEST_D2(112, fsub.d, rdn, D_MZERO, 0, D_ONE, D_ONE)
  TEST_S2(113, fadd.s, rdn, S_MZERO, 0, S_ONE, S_MONE)
  TEST_S2(114, fadd.s, rup, S_ZERO, 0, S_ONE, S_MONE)
  # overflow: infinity or the largest finite value depending on the mode
  TEST_S2(115, fmul.s, rne, S_INF, OF | NX, S_MAX, S_TWO)
  TEST_S2(115, fmul.s, rtz, S_MAX, OF | NX, S_MAX, S_TWO)
  TEST_S2(115, fmul.s, rdn, S_MAX, OF | NX, S_MAX, S_TWO)
  TEST_S2(115, fmul.s, rup, S_INF, OF | NX, S_MAX, S_TWO)
  TEST_S2(115, fmul.s, rmm, S_INF, OF | NX, S_MAX, S_TWO)
  TEST_D2(116, fmul.d, rne, D_MINF, OF | NX, D_MAX, D_MTWO)
  TEST_D2(116, fmul.d, rtz, D_MMAX, OF | NX, D_MAX, D_MTWO)
  TEST_D2(116, fmul.d, rdn, D_MINF, OF | NX, D_MAX, D_MTWO)
  TEST_D2(116, fmul.d, rup, D_MMAX, OF | NX, D_MAX, D_MTWO)
  TEST_D2(116, fmul.d, rmm, D_MINF, OF | NX, D_MAX, D_MTWO)
  TEST_D2(117, fadd.d, rne, D_MAX, NX, D_MAX, D_ONE)
  # underflow (tininess after rounding); an exact subnormal result raises nothing
  TEST_D2(118, fmul.d, rne, D_ZERO, UF | NX, 0x0000000000000001, D_HALF)
  TEST_D2(119, fmul.d, rup, 0x0000000000000001, UF | NX, 0x0000000000000001, D_HALF)
  TEST_S2(120, fmul.s, rmm, 0x00000001, UF | NX, 0x00000001, S_HALF)
  TEST_S2(121, fmul.s, rdn, 0x80000001, UF | NX, 0x00000001, 0xbf000000)
  TEST_D2(122, fmul.d, rne, 0x0008000000000000, 0, 0x0010000000000000, D_HALF)
  TEST_S2(123, fsub.s, rne, 0x00000001, 0, 0x00800001, 0x00800000)
  # invalid and divide-by-zero
  TEST_D2(124, fdiv.d, rne, D_QNAN, NV, D_ZERO, D_ZERO)
  TEST_S2(125, fdiv.s, rne, S_QNAN, NV, S_ZERO, S_MZERO)
  TEST_D2(126, fdiv.d, rne, D_INF, DZ, D_ONE, D_ZERO)
  TEST_D2(127, fdiv.d, rne, D_MINF, DZ, D_ONE, D_MZERO)
  TEST_S2(128, fdiv.s, rtz, S_MINF, DZ, S_MONE, S_ZERO)
  TEST_D2(129, fdiv.d, rne, D_ZERO, 0, D_ONE, D_INF)
  TEST_D2(130, fdiv.d, rne, D_QNAN, NV, D_INF, D_MINF)
  TEST_D2(131, fsub.d, rne, D_QNAN, NV, D_INF, D_INF)
  TEST_S2(132, fadd.s, rne, S_QNAN, NV, S_MINF, S_INF)
  TEST_D2(133, fmul.d, rne, D_QNAN, NV, D_MINF, D_ZERO)
  TEST_D2(134, fadd.d, rne, D_INF, 0, D_INF, D_MAX)
  # NaN operands: results are always the canonical NaN; only a signalling NaN raises NV
  TEST_D2(135, fadd.d, rne, D_QNAN, NV, D_SNAN, D_ONE)
  TEST_D2(136, fmul.d, rne, D_QNAN, 0, 0xfff8000000000123, D_ONE)
  TEST_S2(137, fsub.s, rne, S_QNAN, NV, S_ONE, 0xff800001)
  TEST_S2(138, fdiv.s, rne, S_QNAN, 0, 0xffc00123, S_ONE)
  # square root
  TEST_D1(139, fsqrt.d, rne, 0x3ff6a09e667f3bcd, NX, D_TWO)
  TEST_D1(140, fsqrt.d, rtz, 0x3ff6a09e667f3bcc, NX, D_TWO)
  TEST_S1(141, fsqrt.s, rne, 0x3fb504f3, NX, S_TWO)
  TEST_S1(142, fsqrt.s, rup, 0x3fb504f4, NX, S_TWO)
  TEST_D1(143, fsqrt.d, rne, 0x4000000000000000, 0, 0x4010000000000000)
  TEST_D1(144, fsqrt.d, rne, D_MZERO, 0, D_MZERO)
  TEST_D1(145, fsqrt.d, rne, D_QNAN, NV, D_MONE)
  TEST_S1(146, fsqrt.s, rne, S_QNAN, NV, 0x80000001)
  TEST_D1(147, fsqrt.d, rne, D_INF, 0, D_INF)

  # ======== fused multiply-add ========
  TEST_D3(148, fmadd.d, 0x401c000000000000, 0, D_TWO, D_THREE, D_ONE)
  TEST_S3(149, fmsub.s, 0x40a00000, 0, S_TWO, S_THREE, S_ONE)
  TEST_S3(150, fnmadd.s, 0xc0e00000, 0, S_TWO, S_THREE, S_ONE)
  TEST_S3(151, fnmsub.s, 0xc0a00000, 0, S_TWO, S_THREE, S_ONE)
  TEST_D3(152, fnmsub.d, 0xc014000000000000, 0, D_TWO, D_THREE, D_ONE)
  TEST_D3(153, fnmadd.d, D_MZERO, 0, D_ONE, D_ZERO, D_ZERO)
  # one rounding only: a*a - round(a*a) is the exact error term 2^-104 (unfused would give 0)
  TEST_D3(154, fmsub.d, 0x3970000000000000, 0, 0x3ff0000000000001, 0x3ff0000000000001, 0x3ff0000000000002)
  # inf * 0 + qNaN is invalid (NV), even though the addend is a quiet NaN
  TEST_D3(155, fmadd.d, D_QNAN, NV, D_INF, D_ZERO, D_QNAN)
  TEST_S3(156, fmadd.s, S_QNAN, NV, S_ZERO, S_MINF, 0x7fc00042)
  TEST_D3(157, fmadd.d, D_QNAN, 0, D_ONE, D_TWO, 0x7ff8000000000042)
  TEST_D3(158, fmadd.d, D_QNAN, NV, D_ONE, D_TWO, D_SNAN)
  TEST_D3(159, fmadd.d, D_QNAN, NV, D_INF, D_ONE, D_MINF)
  TEST_D3(160, fmadd.d, D_INF, OF | NX, D_MAX, D_TWO, D_ONE)

  # ======== conversions ========
  TEST_DX(161, fcvt.w.d, rtz, 0x7fffffff, NV, D_QNAN)
  TEST_DX(162, fcvt.w.d, rtz, 0x7fffffff, NV, 0xfff8000000000000)
  TEST_DX(163, fcvt.w.d, rtz, 0x7fffffff, NV, D_INF)
  TEST_DX(164, fcvt.w.d, rtz, 0xffffffff80000000, NV, D_MINF)
  TEST_DX(165, fcvt.w.d, rne, 0, NX, D_MHALF)
  TEST_DX(166, fcvt.w.d, rtz, 0, NX, D_MHALF)
  TEST_DX(167, fcvt.w.d, rdn, -1, NX, D_MHALF)
  TEST_DX(168, fcvt.w.d, rup, 0, NX, D_MHALF)
  TEST_DX(169, fcvt.w.d, rmm, -1, NX, D_MHALF)
  TEST_DX(170, fcvt.w.d, rne, 2, NX, 0x4004000000000000)                   # 2.5
  TEST_DX(171, fcvt.w.d, rmm, 3, NX, 0x4004000000000000)
  TEST_DX(172, fcvt.w.d, rtz, 0x7fffffff, NV, 0x41e0000000000000)          # 2^31
  TEST_DX(173, fcvt.w.d, rtz, 0x7fffffff, 0, 0x41dfffffffc00000)           # 2^31 - 1
  TEST_DX(174, fcvt.w.d, rtz, 0x7fffffff, NX, 0x41dfffffffe00000)          # 2^31 - 0.5
  TEST_DX(175, fcvt.w.d, rne, 0x7fffffff, NV, 0x41dfffffffe00000)          # rounds to 2^31
  TEST_DX(176, fcvt.w.d, rtz, 0xffffffff80000000, 0, 0xc1e0000000000000)   # -2^31
  TEST_DX(177, fcvt.w.d, rtz, 0xffffffff80000000, NV, 0xc1e0000000200000)  # -2^31 - 1
  TEST_DX(178, fcvt.wu.d, rtz, 0xffffffffb2d05e00, 0, 0x41e65a0bc0000000)  # 3e9, sign-extended
  TEST_DX(179, fcvt.wu.d, rtz, 0, NV, D_MONE)
  TEST_DX(180, fcvt.wu.d, rtz, 0, NX, D_MHALF)
  TEST_DX(181, fcvt.wu.d, rtz, -1, NV, D_QNAN)
  TEST_DX(182, fcvt.wu.d, rtz, -1, NV, D_INF)
  TEST_DX(183, fcvt.l.d, rtz, 0x7fffffffffffffff, NV, D_QNAN)
  TEST_DX(184, fcvt.l.d, rtz, 0x7fffffffffffffff, NV, 0x43e0000000000000)  # 2^63
  TEST_DX(185, fcvt.l.d, rtz, 0x8000000000000000, 0, 0xc3e0000000000000)   # -2^63
  TEST_DX(186, fcvt.l.d, rtz, 0x8000000000000000, NV, D_MINF)
  TEST_DX(187, fcvt.lu.d, rtz, 0, NV, D_MONE)
  TEST_DX(188, fcvt.lu.d, rtz, -1, NV, 0x43f0000000000000)                 # 2^64
  TEST_DX(189, fcvt.lu.d, rtz, 0x8000000000000000, 0, 0x43e0000000000000)
  TEST_SX(190, fcvt.w.s, rtz, -1, 0, S_MONE)
  TEST_SX(191, fcvt.w.s, rtz, 0x7fffffff, NV, S_QNAN)
  TEST_SX(192, fcvt.wu.s, rtz, 0xffffffff80000000, 0, 0x4f000000)          # 2^31, sign-extended
  TEST_SX(193, fcvt.l.s, rtz, 0x7fffffffffffffff, NV, S_INF)
  TEST_SX(194, fcvt.lu.s, rup, 2, NX, 0x3fc00000)                          # 1.5
  TEST_XS(195, fcvt.s.w, rne, 0x4b800000, NX, 16777217)
  TEST_XS(196, fcvt.s.w, rup, 0x4b800001, NX, 16777217)
  TEST_XS(197, fcvt.s.w, rne, 0xcf000000, 0, 0xffffffff80000000)
  TEST_XS(198, fcvt.s.wu, rne, 0x4f800000, NX, 0xffffffff)                 # 2^32 - 1 rounds to 2^32
  TEST_XS(199, fcvt.s.wu, rtz, 0x4f7fffff, NX, 0x12345ffffffff)            # upper bits ignored
  TEST_XS(200, fcvt.s.l, rne, 0xdf000000, 0, 0x8000000000000000)
  TEST_XS(201, fcvt.s.lu, rne, 0x5f800000, NX, 0xffffffffffffffff)
  FCHECK(202, 0xc1e0000000000000, 0, li x11, 0x1234567880000000; fcvt.d.w f3, x11)   # only the low 32 bits count
  FCHECK(203, 0x41efffffffe00000, 0, li x11, 0xffffffff; fcvt.d.wu f3, x11)
  TEST_XD(204, fcvt.d.l, rne, 0x4340000000000000, NX, 0x0020000000000001)
  TEST_XD(205, fcvt.d.l, rup, 0x4340000000000001, NX, 0x0020000000000001)
  TEST_XD(206, fcvt.d.lu, rtz, 0x43efffffffffffff, NX, 0xffffffffffffffff)
  FCHECK(207, BOX(0x3eaaaaab), NX, LDD(f1, 0x3fd5555555555555); fcvt.s.d f3, f1, rne)
  FCHECK(208, BOX(0x3eaaaaaa), NX, LDD(f1, 0x3fd5555555555555); fcvt.s.d f3, f1, rtz)
  FCHECK(209, BOX(S_INF), OF | NX, LDD(f1, D_MAX); fcvt.s.d f3, f1, rne)
  FCHECK(210, BOX(S_MAX), OF | NX, LDD(f1, D_MAX); fcvt.s.d f3, f1, rtz)
  FCHECK(211, BOX(S_QNAN), NV, LDD(f1, D_SNAN); fcvt.s.d f3, f1)
  FCHECK(212, BOX(S_QNAN), 0, LDD(f1, 0xfff8000000000123); fcvt.s.d f3, f1)
  FCHECK(213, BOX(0x80000000), UF | NX, LDD(f1, 0x8000000000000001); fcvt.s.d f3, f1)
  FCHECK(214, 0x3fd5555560000000, 0, LDS(f1, 0x3eaaaaab); fcvt.d.s f3, f1)
  FCHECK(215, D_QNAN, NV, LDS(f1, S_SNAN); fcvt.d.s f3, f1)
  FCHECK(216, 0x36a0000000000000, 0, LDS(f1, 0x00000001); fcvt.d.s f3, f1)  # subnormal single is normal in double

  # ======== min / max (IEEE 754-2019 minimumNumber/maximumNumber) ========
  TEST_D2N(217, fmin.d, D_ONE, NV, D_SNAN, D_ONE)
  TEST_D2N(217, fmax.d, D_ONE, NV, D_ONE, D_SNAN)
  TEST_D2N(217, fmax.d, D_MONE, 0, D_QNAN, D_MONE)
  TEST_D2N(217, fmin.d, D_QNAN, 0, 0x7ff8000000000042, D_QNAN)
  TEST_D2N(217, fmax.d, D_QNAN, NV, D_SNAN, D_QNAN)
  TEST_D2N(217, fmin.d, D_MZERO, 0, D_MZERO, D_ZERO)
  TEST_D2N(217, fmin.d, D_MZERO, 0, D_ZERO, D_MZERO)
  TEST_D2N(217, fmax.d, D_ZERO, 0, D_MZERO, D_ZERO)
  TEST_D2N(217, fmax.d, D_ZERO, 0, D_ZERO, D_MZERO)
  TEST_D2N(217, fmin.d, D_MINF, 0, D_MINF, D_MAX)
  TEST_D2N(217, fmax.d, D_THREE, 0, D_MTWO, D_THREE)
  TEST_S2N(218, fmin.s, S_ONE, NV, S_SNAN, S_ONE)
  TEST_S2N(218, fmax.s, S_MZERO, 0, S_MZERO, 0xffc00000)
  TEST_S2N(218, fmin.s, S_MZERO, 0, S_ZERO, S_MZERO)
  TEST_S2N(218, fmax.s, S_ZERO, 0, S_ZERO, S_MZERO)
  TEST_S2N(218, fmin.s, S_QNAN, 0, 0x7fc00001, 0xffc00000)

  # ======== compares: feq is quiet (NV only for sNaN); flt/fle signal on any NaN ========
  TEST_DCMP(219, feq.d, 0, 0, D_QNAN, D_ONE)
  TEST_DCMP(219, feq.d, 0, NV, D_SNAN, D_ONE)
  TEST_DCMP(219, feq.d, 0, NV, D_ONE, D_SNAN)
  TEST_DCMP(219, flt.d, 0, NV, D_QNAN, D_ONE)
  TEST_DCMP(219, flt.d, 0, NV, D_ONE, D_SNAN)
  TEST_DCMP(219, fle.d, 0, NV, D_ONE, D_QNAN)
  TEST_DCMP(219, fle.d, 0, NV, D_SNAN, D_ONE)
  TEST_DCMP(220, feq.d, 1, 0, D_MZERO, D_ZERO)
  TEST_DCMP(220, flt.d, 0, 0, D_MZERO, D_ZERO)
  TEST_DCMP(220, fle.d, 1, 0, D_ZERO, D_MZERO)
  TEST_DCMP(220, flt.d, 1, 0, D_MTWO, D_MONE)
  TEST_DCMP(220, flt.d, 0, 0, D_MONE, D_MTWO)
  TEST_DCMP(220, fle.d, 1, 0, D_INF, D_INF)
  TEST_DCMP(221, feq.d, 0, 0, D_QNAN, D_QNAN)
  TEST_SCMP(222, feq.s, 0, 0, S_QNAN, S_QNAN)
  TEST_SCMP(222, feq.s, 0, NV, S_SNAN, S_SNAN)
  TEST_SCMP(222, flt.s, 0, NV, S_QNAN, S_ONE)
  TEST_SCMP(222, fle.s, 0, NV, S_ONE, S_QNAN)
  TEST_SCMP(222, flt.s, 1, 0, S_ONE, S_TWO)
  TEST_SCMP(222, fle.s, 1, 0, S_MZERO, S_ZERO)
  TEST_SCMP(222, feq.s, 1, 0, S_ZERO, S_MZERO)

  # ======== fclass: one bit per class ========
  TEST_DCLASS(223, 0x001, D_MINF)
  TEST_DCLASS(223, 0x002, D_MONE)
  TEST_DCLASS(223, 0x004, 0x800fffffffffffff)
  TEST_DCLASS(223, 0x008, D_MZERO)
  TEST_DCLASS(223, 0x010, D_ZERO)
  TEST_DCLASS(223, 0x020, 0x0000000000000001)
  TEST_DCLASS(223, 0x040, D_MAX)
  TEST_DCLASS(223, 0x080, D_INF)
  TEST_DCLASS(223, 0x100, D_SNAN)
  TEST_DCLASS(223, 0x100, 0xfff4000000000000)
  TEST_DCLASS(223, 0x200, D_QNAN)
  TEST_DCLASS(223, 0x200, 0xffffffffffffffff)
  TEST_SCLASS(224, 0x001, S_MINF)
  TEST_SCLASS(224, 0x002, 0x80800000)
  TEST_SCLASS(224, 0x004, 0x807fffff)
  TEST_SCLASS(224, 0x008, S_MZERO)
  TEST_SCLASS(224, 0x010, S_ZERO)
  TEST_SCLASS(224, 0x020, 0x00000001)
  TEST_SCLASS(224, 0x040, S_ONE)
  TEST_SCLASS(224, 0x080, S_INF)
  TEST_SCLASS(224, 0x100, 0x7fbfffff)
  TEST_SCLASS(224, 0x200, S_QNAN)

  # ======== sign injection: bit operations, NaNs pass unchanged and raise nothing ========
  TEST_D2N(225, fsgnj.d, D_MONE, 0, D_ONE, D_MTWO)
  TEST_D2N(225, fsgnj.d, D_ONE, 0, D_MONE, D_TWO)
  TEST_D2N(225, fsgnjn.d, D_ONE, 0, D_ONE, D_MTWO)
  TEST_D2N(225, fsgnjn.d, D_MONE, 0, D_MONE, D_TWO)
  TEST_D2N(225, fsgnjx.d, D_ONE, 0, D_MONE, D_MTWO)
  TEST_D2N(225, fsgnjx.d, D_MONE, 0, D_MONE, D_TWO)
  TEST_D2N(225, fsgnjn.d, 0xfff0000000000001, 0, D_SNAN, D_SNAN)
  TEST_D2N(225, fsgnj.d, 0x7ff8000000000042, 0, 0xfff8000000000042, D_ZERO)
  TEST_S2N(226, fsgnj.s, S_MONE, 0, S_ONE, S_MTWO)
  TEST_S2N(226, fsgnjn.s, S_ONE, 0, S_ONE, S_MTWO)
  TEST_S2N(226, fsgnjx.s, S_MONE, 0, S_MONE, S_TWO)
  TEST_S2N(226, fsgnjx.s, 0x7f800001, 0, 0xff800001, S_MTWO)
  FCHECK(227, 0x3ff0000000000000, 0, LDD(f1, D_MONE); fabs.d f3, f1)
  FCHECK(228, BOX(0x80000000), 0, LDS(f1, S_ZERO); fneg.s f3, f1)

  # ======== misaligned FP loads and stores ========
#define RESET_MDATA la x11, mdata; li x12, 0x8877665544332211; sd x12, 0(x11); \
  li x12, 0xffeeddccbbaa9900; sd x12, 8(x11); li x12, 0x0123456789abcdef; sd x12, 16(x11)
  FCHECK(229, BOX(0x55443322), 0, RESET_MDATA; flw f3, 1(x11))
  FCHECK(230, BOX(0x99008877), 0, RESET_MDATA; flw f3, 6(x11))
  FCHECK(231, BOX(0xccbbaa99), 0, RESET_MDATA; addi x13, x11, 16; flw f3, -7(x13))
  FCHECK(232, 0xaa99008877665544, 0, RESET_MDATA; fld f3, 3(x11))
  FCHECK(233, 0x6789abcdefffeedd, 0, RESET_MDATA; fld f3, 13(x11))
  FCHECK(234, 0xbbaa990088776655, 0, RESET_MDATA; addi x13, x11, 16; fld f3, -12(x13))
  CASE(235)
  RESET_MDATA
  mv x13, x11                            # LDD/LDS use x11
  LDD(f1, 0x0102030405060708)
  fsd f1, 5(x13)
  ld x14, 0(x13)
  li x7, 0x0607085544332211
  bne x14, x7, fail
  ld x14, 8(x13)
  li x7, 0xffeedd0102030405
  bne x14, x7, fail
  ld x14, 16(x13)
  li x7, 0x0123456789abcdef
  bne x14, x7, fail
  CASE(236)
  RESET_MDATA
  mv x13, x11                            # LDD/LDS use x11
  LDS(f1, 0xcafebabe)
  fsw f1, 2(x13)
  ld x14, 0(x13)
  li x7, 0x8877cafebabe2211
  bne x14, x7, fail
  LDD(f1, 0x1234567887654321)            # not NaN-boxed: fsw still stores the low 32 bits
  fsw f1, 15(x13)
  ld x14, 8(x13)
  li x7, 0x21eeddccbbaa9900
  bne x14, x7, fail
  ld x14, 16(x13)
  li x7, 0x0123456789876543
  bne x14, x7, fail
  CASE(237)                                # across a page boundary
  la x13, pgbuf + 4096
  sd x0, -8(x13)
  sd x0, 0(x13)
  LDD(f1, 0x0102030405060708)
  fsd f1, -3(x13)
  ld x14, -8(x13)
  li x7, 0x0607080000000000
  bne x14, x7, fail
  ld x14, 0(x13)
  li x7, 0x0000000102030405
  bne x14, x7, fail
  fld f2, -3(x13)
  fmv.x.d x14, f2
  li x7, 0x0102030405060708
  bne x14, x7, fail
  flw f2, -1(x13)
  fmv.x.d x14, f2
  li x7, BOX(0x03040506)
  bne x14, x7, fail
  LDS(f1, 0xa1b2c3d4)
  fsw f1, -2(x13)
  lwu x14, -4(x13)
  li x7, 0xc3d40800
  bne x14, x7, fail
  lwu x14, 0(x13)
  li x7, 0x0203a1b2
  bne x14, x7, fail

CODE_END

DATA_BEGIN
  .align 4
fdata:
  .word 0x3f800000, 0xc0490fdb            # 1.0f, -pi (f)
  .dword 0x400921fb54442d18               # pi
  .dword 0xfedcba9876543210
  .dword 0
  .align 4
sbuf: .dword 0, 0, 0, 0
  .align 4
mdata: .dword 0, 0, 0, 0
  .align 12
pgbuf: .skip 8192
DATA_END
