/*
 * Shared harness for tvisor's ISA test programs: HTIF reporting, an M-mode trap recorder, an S-mode
 * trap recorder, and riscv-tests-style case macros. gp (x3) holds the current case number; a failure
 * ends the run with exit status = that number (HTIF: tohost = gp<<1 | 1), success with status 0.
 *
 * Register conventions inside cases: x1..x2 and x5..x31 are free for tests except gp, sp, tp.
 * tp (x4) is not used by the harness either.
 */
#ifndef TVISOR_TEST_H
#define TVISOR_TEST_H

#define TESTNUM gp
/* a7 value that asks the M-mode handler to end the run with tohost = a0 (works from any privilege). */
#define EXIT_MAGIC 0x7e57

#define MSTATUS_SIE   (1 << 1)
#define MSTATUS_MIE   (1 << 3)
#define MSTATUS_SPIE  (1 << 5)
#define MSTATUS_MPIE  (1 << 7)
#define MSTATUS_SPP   (1 << 8)
#define MSTATUS_MPP   (3 << 11)
#define MSTATUS_MPRV  (1 << 17)
#define MSTATUS_SUM   (1 << 18)
#define MSTATUS_MXR   (1 << 19)

/* ---- program entry and exit ------------------------------------------------------------------ */

#define CODE_BEGIN                      \
  .option norvc;                        \
  .section .text.init;                  \
  .align 6;                             \
  .globl _start;                        \
_start:                                 \
  /* One hart runs the cases; the others park (as riscv-tests do on Spike -p N), so a run with */ \
  /* --cpus N behaves as with one hart instead of N harts racing over the shared trap words. */ \
  csrr t0, mhartid;                     \
  bnez t0, park_other_harts;            \
  la t0, mtrap_entry;                   \
  csrw mtvec, t0;                       \
  la sp, stack_top;                     \
  li gp, 0;                             \
  csrwi mie, 0;                         \
  csrwi medeleg, 0;                     \
  csrwi mideleg, 0;                     \
  /* PMP: one NAPOT entry covering everything, so S and U may access memory (priv spec 3.7.1). */ \
  li t0, -1;                            \
  csrw pmpaddr0, t0;                    \
  li t0, 0x1f;                          \
  csrw pmpcfg0, t0;                     \
  la t0, strap_entry;                   \
  csrw stvec, t0;                       \
  j test_main;                          \
  .text;                                \
test_main:

/* All cases passed: report success. Works from any privilege. */
#define PASS                            \
  li a0, 1;                             \
  li a7, EXIT_MAGIC;                    \
  ecall;                                \
1: j 1b

#define CODE_END                        \
  PASS;                                 \
fail:                                   \
  slli a0, gp, 1;                       \
  ori a0, a0, 1;                        \
  li a7, EXIT_MAGIC;                    \
  ecall;                                \
1: j 1b;                                \
  TRAP_HANDLERS

/* ---- trap recording -------------------------------------------------------------------------- */
/*
 * The M-mode handler records mcause/mtval/mepc/previous privilege and a count into trap_* words.
 * Ecall with a7 == EXIT_MAGIC ends the run. An exception returns to trap_resume when that is set
 * (one-shot), else to mepc + 4 (use trap_resume after compressed instructions). An exception is only
 * allowed when trap_expect is nonzero (one-shot); otherwise the run fails with the current case number.
 * An interrupt clears mie entirely (so a level-triggered source cannot re-enter) and returns to mepc.
 */
#define EXPECT_TRAP        li t0, 1; la t1, trap_expect; sd t0, 0(t1)
#define RESUME_AT(label)   la t0, label; la t1, trap_resume; sd t0, 0(t1)
#define CLEAR_TRAP         la t1, trap_count; sd zero, 0(t1); la t1, trap_cause; li t0, -1; sd t0, 0(t1); \
                           la t1, strap_count; sd zero, 0(t1); la t1, strap_cause; sd t0, 0(t1)
/* Compare a recorded trap word with an immediate; fail with the current case number when different. */
#define CHECK_WORD(sym, val) la t1, sym; ld t1, 0(t1); li t2, val; bne t1, t2, fail
#define CHECK_WORD_REG(sym, reg) la t1, sym; ld t1, 0(t1); bne t1, reg, fail

/* Switch to privilege `mode` (0 U, 1 S) at `label`, from M-mode, through mret. */
#define MRET_TO(mode, label)            \
  li t0, MSTATUS_MPP;                   \
  csrc mstatus, t0;                     \
  li t0, (mode) << 11;                  \
  csrs mstatus, t0;                     \
  la t0, label;                         \
  csrw mepc, t0;                        \
  mret

/* Return to M-mode from any privilege: ecall with a7=0 resumes at `label` in M-mode. */
#define GOTO_M(label)                   \
  RESUME_AT_M(label);                   \
  li a7, 0;                             \
  ecall
#define RESUME_AT_M(label) la t0, label; la t1, trap_resume_m; sd t0, 0(t1)

#define TRAP_HANDLERS                   \
  /* mie is 0 and stays 0, so WFI sleeps for good; the loop covers WFI's permitted early wake-ups. */ \
park_other_harts:                       \
  wfi;                                  \
  j park_other_harts;                   \
  .align 6;                             \
mtrap_entry:                            \
  csrw mscratch, t0;                    \
  la t0, trap_save;                     \
  sd t1, 0(t0);                         \
  sd t2, 8(t0);                         \
  csrr t1, mcause;                      \
  la t2, trap_cause; sd t1, 0(t2);      \
  csrr t2, mtval;                       \
  la t0, trap_tval; sd t2, 0(t0);       \
  csrr t2, mepc;                        \
  la t0, trap_epc; sd t2, 0(t0);        \
  csrr t2, mstatus;                     \
  srli t2, t2, 11; andi t2, t2, 3;      \
  la t0, trap_mpp; sd t2, 0(t0);        \
  la t0, trap_count; ld t2, 0(t0);      \
  addi t2, t2, 1; sd t2, 0(t0);         \
  bltz t1, 50f;                         \
  /* ecall from U/S/M? */               \
  addi t2, t1, -8; bltz t2, 30f;        \
  addi t2, t1, -11; bgtz t2, 30f;       \
  addi t2, t1, -10; beqz t2, 30f;       \
  li t2, EXIT_MAGIC; bne a7, t2, 25f;   \
  la t0, tohost; sd a0, 0(t0);          \
20: j 20b;                              \
25: /* a7 == 0 with trap_resume_m: return to M-mode there */ \
  bnez a7, 30f;                         \
  la t0, trap_resume_m; ld t2, 0(t0);   \
  beqz t2, 30f;                         \
  sd zero, 0(t0);                       \
  csrw mepc, t2;                        \
  li t2, MSTATUS_MPP; csrs mstatus, t2; \
  j 40f;                                \
30: la t0, trap_expect; ld t2, 0(t0);   \
  beqz t2, 45f;                         \
  sd zero, 0(t0);                       \
  la t0, trap_resume; ld t2, 0(t0);     \
  beqz t2, 35f;                         \
  sd zero, 0(t0);                       \
  csrw mepc, t2;                        \
  j 40f;                                \
35: csrr t2, mepc; addi t2, t2, 4;      \
  csrw mepc, t2;                        \
40: la t0, trap_save;                   \
  ld t1, 0(t0);                         \
  ld t2, 8(t0);                         \
  csrr t0, mscratch;                    \
  mret;                                 \
45: /* unexpected exception: fail */    \
  slli t2, gp, 1; ori t2, t2, 1;        \
  la t0, tohost; sd t2, 0(t0);          \
46: j 46b;                              \
50: csrwi mie, 0;                       \
  j 40b;                                \
  .align 6;                             \
strap_entry:                            \
  csrw sscratch, t0;                    \
  la t0, strap_save;                    \
  sd t1, 0(t0);                         \
  sd t2, 8(t0);                         \
  csrr t1, scause;                      \
  la t2, strap_cause; sd t1, 0(t2);     \
  csrr t2, stval;                       \
  la t0, strap_tval; sd t2, 0(t0);      \
  csrr t2, sepc;                        \
  la t0, strap_epc; sd t2, 0(t0);       \
  csrr t2, sstatus;                     \
  srli t2, t2, 8; andi t2, t2, 1;       \
  la t0, strap_spp; sd t2, 0(t0);       \
  la t0, strap_count; ld t2, 0(t0);     \
  addi t2, t2, 1; sd t2, 0(t0);         \
  bltz t1, 70f;                         \
  /* ecall from U with EXIT_MAGIC or 0 (GOTO_M): forward to M */ \
  addi t2, t1, -8; bnez t2, 60f;        \
  li t2, EXIT_MAGIC; beq a7, t2, 55f;   \
  bnez a7, 60f;                         \
  la t2, trap_resume_m; ld t2, 0(t2);   \
  beqz t2, 60f;                         \
55: ecall;                              \
60: la t0, trap_expect; ld t2, 0(t0);   \
  beqz t2, 66f;                         \
  sd zero, 0(t0);                       \
  la t0, trap_resume; ld t2, 0(t0);     \
  beqz t2, 65f;                         \
  sd zero, 0(t0);                       \
  csrw sepc, t2;                        \
  j 68f;                                \
65: csrr t2, sepc; addi t2, t2, 4;      \
  csrw sepc, t2;                        \
68: la t0, strap_save;                  \
  ld t1, 0(t0);                         \
  ld t2, 8(t0);                         \
  csrr t0, sscratch;                    \
  sret;                                 \
66: /* unexpected exception in S: fail through M */ \
  slli a0, gp, 1; ori a0, a0, 1;        \
  li a7, EXIT_MAGIC;                    \
  ecall;                                \
70: csrwi sie, 0;                       \
  j 68b;

#define DATA_BEGIN                      \
  .section .tohost, "aw", @progbits;    \
  .align 6; .globl tohost; .type tohost, @object; .size tohost, 8; tohost: .dword 0; \
  .align 6; .globl fromhost; .type fromhost, @object; .size fromhost, 8; fromhost: .dword 0; \
  .data;                                \
  .align 4;                             \
trap_save: .dword 0, 0, 0, 0;           \
trap_cause: .dword 0;                   \
trap_tval: .dword 0;                    \
trap_epc: .dword 0;                     \
trap_mpp: .dword 0;                     \
trap_count: .dword 0;                   \
trap_expect: .dword 0;                  \
trap_resume: .dword 0;                  \
trap_resume_m: .dword 0;                \
strap_save: .dword 0, 0, 0, 0;          \
strap_cause: .dword 0;                  \
strap_tval: .dword 0;                   \
strap_epc: .dword 0;                    \
strap_spp: .dword 0;                    \
strap_count: .dword 0;                  \
  .bss;                                 \
  .align 12;                            \
stack_bottom: .skip 8192;               \
stack_top: .skip 64;                    \
  .data

#define DATA_END

/* ---- case macros (result register x14, expected in x7) --------------------------------------- */

#define TEST_CASE(n, reg, expected, code...) \
test_##n:                               \
  li gp, n;                             \
  code;                                 \
  li x7, expected;                      \
  bne reg, x7, fail

#define TEST_RR(n, inst, result, v1, v2) \
  TEST_CASE(n, x14, result, li x11, v1; li x12, v2; inst x14, x11, x12)
#define TEST_RI(n, inst, result, v1, imm) \
  TEST_CASE(n, x14, result, li x11, v1; inst x14, x11, imm)
#define TEST_R(n, inst, result, v1) \
  TEST_CASE(n, x14, result, li x11, v1; inst x14, x11)
/* Same register as source and destination. */
#define TEST_RR_SRC1_EQ_DEST(n, inst, result, v1, v2) \
  TEST_CASE(n, x11, result, li x11, v1; li x12, v2; inst x11, x11, x12)
/* Writing x0 must have no effect. */
#define TEST_RR_ZERODEST(n, inst, v1, v2) \
  TEST_CASE(n, x0, 0, li x11, v1; li x12, v2; inst x0, x11, x12)

/*
 * Case n: the single 4-byte instruction `insn` must raise an illegal-instruction exception in M-mode
 * with mepc at it and mtval = its encoding (privileged spec 3.1.16: mtval may hold the faulting bits; we
 * require them), then execution resumes after it.
 */
#define TEST_ILLEGAL(n, insn...)        \
test_##n:                               \
  li gp, n;                             \
  CLEAR_TRAP;                           \
  EXPECT_TRAP;                          \
  la x5, 1f;                            \
1: insn;                                \
  CHECK_WORD(trap_cause, 2);            \
  CHECK_WORD_REG(trap_epc, x5);         \
  lwu x6, 0(x5);                        \
  CHECK_WORD_REG(trap_tval, x6);        \
  CHECK_WORD(trap_count, 1)

/* Case n: `insn` must execute without any trap. */
#define TEST_NO_TRAP(n, insn...)        \
test_##n:                               \
  li gp, n;                             \
  CLEAR_TRAP;                           \
  insn;                                 \
  CHECK_WORD(trap_count, 0)

/*
 * QEMU's spike machine implements no `time` CSR (it traps; firmware would emulate it from the CLINT).
 * Its reference build reads the CLINT's mtime instead; tvisor's build uses the CSR as the spec requires.
 */
#ifdef QEMU_REFERENCE
#define RDTIME(reg) li reg, 0x200bff8; ld reg, 0(reg)
#else
#define RDTIME(reg) rdtime reg
#endif

/*
 * Case n: in privilege `mode` (0 U, 1 S; entered from M by mret), `insn` must raise an illegal-instruction
 * exception taken to M with mtval = its encoding; the checks run in that mode, then control returns to M.
 */
#define TEST_ILLEGAL_IN(n, mode, insn...) \
test_##n:                               \
  li gp, n;                             \
  CLEAR_TRAP;                           \
  EXPECT_TRAP;                          \
  MRET_TO(mode, 1f);                    \
1: la x5, 2f;                           \
2: insn;                                \
  CHECK_WORD(trap_cause, 2);            \
  CHECK_WORD_REG(trap_epc, x5);         \
  lwu x6, 0(x5);                        \
  CHECK_WORD_REG(trap_tval, x6);        \
  CHECK_WORD(trap_mpp, mode);           \
  GOTO_M(3f);                           \
3:

/* Case n: in privilege `mode`, `insn` must execute without trapping; then control returns to M. */
#define TEST_OK_IN(n, mode, insn...)    \
test_##n:                               \
  li gp, n;                             \
  CLEAR_TRAP;                           \
  MRET_TO(mode, 1f);                    \
1: insn;                                \
  CHECK_WORD(trap_count, 0);            \
  GOTO_M(3f);                           \
3:

#endif
