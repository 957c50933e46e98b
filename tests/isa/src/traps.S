# Traps and privilege: illegal instructions (mtval = bits), ecall from U/S/M (8/9/11), ebreak (3),
# access faults with exact mtval, delegation to S through medeleg, mret/sret with MPP/SPP/MPIE/SPIE/MPRV,
# privileged instructions and CSRs from lower modes, TVM/TW/TSR, and mcounteren/scounteren gating.
#include "test.h"
#define BAD_ADDR 0xc0000000          /* nothing is mapped there on Spike, QEMU spike or tvisor's bare runner */
CODE_BEGIN

  # ---- illegal instructions in M-mode ----
  TEST_ILLEGAL(1, .word 0x0000000b)                 # custom-0 opcode
  TEST_ILLEGAL(2, .word 0xfe000033 | (1 << 25))     # OP with funct7 = 0x7f: no such instruction
  TEST_ILLEGAL(3, .word 0x0600003b)                 # OP-32 with funct7 = 3: no such instruction
  TEST_ILLEGAL(4, .word 0x4000501b | (1 << 25))     # sraiw with shamt bit 5 set (reserved on RV64)
  TEST_ILLEGAL(5, .word 0x00003003 | (7 << 12))     # LOAD funct3=7: no such width
  TEST_ILLEGAL(6, .word 0x00004023)                 # STORE funct3=4: no such width
  TEST_ILLEGAL(7, .word 0x30200073 | (1 << 7))      # mret with rd != 0 is not mret
  # F/D instructions with mstatus.FS = Off are illegal (priv spec 3.1.6.6)
test_8:
  li gp, 8
  li t0, (3 << 13)
  csrc mstatus, t0
  TEST_ILLEGAL(9, fadd.d f1, f2, f3)
  TEST_ILLEGAL(10, fmv.x.d x14, f1)
  TEST_ILLEGAL(11, csrr x14, fcsr)

  # ---- ecall from M: cause 11, mepc at the ecall, mtval 0 ----
test_12:
  li gp, 12
  CLEAR_TRAP
  EXPECT_TRAP
  li a7, 1
  la x5, 1f
1: ecall
  CHECK_WORD(trap_cause, 11)
  CHECK_WORD_REG(trap_epc, x5)
  CHECK_WORD(trap_tval, 0)
  CHECK_WORD(trap_mpp, 3)
  # ---- ebreak: cause 3 ----
test_13:
  li gp, 13
  CLEAR_TRAP
  EXPECT_TRAP
  la x5, 1f
1: ebreak
  CHECK_WORD(trap_cause, 3)
  CHECK_WORD_REG(trap_epc, x5)

  # ---- access faults: load 5, store 7, fetch 1, mtval = the address ----
#define TEST_ACCESS_FAULT(n, cause, addr, insn...) \
test_##n:                      \
  li gp, n;                    \
  CLEAR_TRAP;                  \
  EXPECT_TRAP;                 \
  li x11, addr;                \
  la x5, 1f;                   \
1: insn;                       \
  CHECK_WORD(trap_cause, cause); \
  CHECK_WORD_REG(trap_epc, x5);  \
  CHECK_WORD(trap_tval, addr)
  TEST_ACCESS_FAULT(14, 5, BAD_ADDR, ld x14, 0(x11))
  TEST_ACCESS_FAULT(15, 5, BAD_ADDR + 0x13, lbu x14, 0(x11))
  TEST_ACCESS_FAULT(16, 7, BAD_ADDR + 8, sd x0, 0(x11))
  TEST_ACCESS_FAULT(17, 7, BAD_ADDR, sw x0, 0(x11))
#ifdef QEMU_REFERENCE
  /* AMOs raise store/AMO faults (7); QEMU 7.2 reports a load access fault (5) for them. */
  TEST_ACCESS_FAULT(18, 5, BAD_ADDR, amoadd.d x14, x0, (x11))
#else
  TEST_ACCESS_FAULT(18, 7, BAD_ADDR, amoadd.d x14, x0, (x11))
#endif
  TEST_ACCESS_FAULT(19, 5, 0x7ffffff8, ld x14, 0(x11))          # just below RAM
test_20:
  li gp, 20
  CLEAR_TRAP
  EXPECT_TRAP
  RESUME_AT(2f)
  li x11, BAD_ADDR
  la ra, 0
  jalr ra, 0(x11)                  # fetch access fault: mepc = mtval = target, ra already written
  j fail
2: CHECK_WORD(trap_cause, 1)
  CHECK_WORD(trap_epc, BAD_ADDR)
  la x7, 2b
  addi x7, x7, -4
  bne ra, x7, fail
  la t1, trap_tval; ld t1, 0(t1)   # mtval is the faulting address (or 0, priv spec 3.1.16)
  beqz t1, 3f
  li t2, BAD_ADDR
  bne t1, t2, fail
3:
  # ---- ecall from S (9) and U (8); the previous privilege lands in MPP ----
test_21:
  li gp, 21
  CLEAR_TRAP
  EXPECT_TRAP
  MRET_TO(1, 1f)
1: la x5, 2f
  li a7, 1
2: ecall
  CHECK_WORD(trap_cause, 9)
  CHECK_WORD_REG(trap_epc, x5)
  CHECK_WORD(trap_mpp, 1)
  GOTO_M(3f)
3:
test_22:
  li gp, 22
  CLEAR_TRAP
  EXPECT_TRAP
  MRET_TO(0, 1f)
1: la x5, 2f
  li a7, 1
2: ecall
  CHECK_WORD(trap_cause, 8)
  CHECK_WORD_REG(trap_epc, x5)
  CHECK_WORD(trap_mpp, 0)
  GOTO_M(3f)
3:
  # ---- mret: MIE <- MPIE, MPIE <- 1, MPP <- U (least privileged), priv <- old MPP ----
test_23:
  li gp, 23
  li t0, MSTATUS_MIE
  csrc mstatus, t0
  li t0, MSTATUS_MPIE | MSTATUS_MPP  # MPP = M, MPIE = 1
  csrs mstatus, t0
  la t0, 1f
  csrw mepc, t0
  mret
1: csrr x14, mstatus
  andi x15, x14, MSTATUS_MIE
  beqz x15, fail
  andi x15, x14, MSTATUS_MPIE
  beqz x15, fail
  li x7, MSTATUS_MPP
  and x15, x14, x7
  bnez x15, fail
  csrci mstatus, MSTATUS_MIE
  # ---- mret to S with MPRV set clears MPRV (priv spec 3.1.6.3) ----
test_24:
  li gp, 24
  li t0, MSTATUS_MPRV
  csrs mstatus, t0
  MRET_TO(1, 1f)
1: GOTO_M(2f)
2: csrr x14, mstatus
  li x7, MSTATUS_MPRV
  and x14, x14, x7
#ifndef QEMU_REFERENCE
  bnez x14, fail                   /* QEMU 7.2 predates this 1.12 rule and leaves MPRV set */
#endif
  csrc mstatus, x7
  # ---- trap entry: MPIE <- MIE, MIE <- 0 ----
test_25:
  li gp, 25
  csrsi mstatus, MSTATUS_MIE       # no interrupt is enabled in mie, so nothing is taken
  CLEAR_TRAP
  EXPECT_TRAP
  RESUME_AT(1f)
  ecall
1: csrr x14, mstatus               # the handler's mret restored MIE from MPIE
  andi x15, x14, MSTATUS_MIE
  beqz x15, fail
  csrci mstatus, MSTATUS_MIE

  # ---- privileged instructions and CSRs from lower modes ----
  TEST_ILLEGAL_IN(26, 0, csrr x14, sstatus)
  TEST_ILLEGAL_IN(27, 0, csrr x14, mstatus)
  TEST_ILLEGAL_IN(28, 1, csrr x14, mstatus)
  TEST_ILLEGAL_IN(29, 1, csrw mscratch, x0)
  TEST_ILLEGAL_IN(30, 1, mret)
  TEST_ILLEGAL_IN(31, 0, sret)
  TEST_ILLEGAL_IN(32, 0, sfence.vma)
  TEST_ILLEGAL_IN(33, 0, csrw sscratch, x0)
  TEST_ILLEGAL_IN(34, 1, csrr x14, mhartid)
  TEST_OK_IN(35, 1, csrr x14, sstatus; csrw sscratch, x14; sfence.vma)
  # TVM: satp and sfence.vma trap in S; TSR: sret traps in S; TW: wfi traps in S (priv spec 3.1.6.5)
test_36:
  li gp, 36
  li t0, (1 << 20) | (1 << 21) | (1 << 22)   # TVM | TW | TSR
  csrs mstatus, t0
  TEST_ILLEGAL_IN(37, 1, csrr x14, satp)
  TEST_ILLEGAL_IN(38, 1, sfence.vma)
  TEST_ILLEGAL_IN(39, 1, sret)
  TEST_ILLEGAL_IN(40, 1, wfi)
  li t0, (1 << 20) | (1 << 21) | (1 << 22)
  csrc mstatus, t0
  TEST_OK_IN(41, 1, csrr x14, satp)

  # ---- counter gating: mcounteren for S (and U), scounteren additionally for U (priv spec 3.1.12) ----
  csrw mcounteren, x0
  csrw scounteren, x0
  TEST_ILLEGAL_IN(42, 1, rdcycle x14)
  TEST_ILLEGAL_IN(43, 1, rdinstret x14)
  TEST_ILLEGAL_IN(44, 0, rdcycle x14)
  TEST_ILLEGAL_IN(45, 1, rdtime x14)
  csrwi mcounteren, 5                  # CY | IR
  TEST_OK_IN(46, 1, rdcycle x14; rdinstret x14)
  TEST_ILLEGAL_IN(47, 1, rdtime x14)   # TM still clear
  TEST_ILLEGAL_IN(48, 0, rdcycle x14)  # scounteren clear
  csrwi scounteren, 1
  TEST_OK_IN(49, 0, rdcycle x14)
  TEST_ILLEGAL_IN(50, 0, rdinstret x14)
  csrwi mcounteren, 4                  # IR only: S may grant U nothing more than M grants S
  csrwi scounteren, 7
  TEST_ILLEGAL_IN(51, 0, rdcycle x14)
  TEST_OK_IN(52, 0, rdinstret x14)
#ifndef QEMU_REFERENCE
  csrwi mcounteren, 7                  # QEMU's spike machine has no time CSR at all
  TEST_OK_IN(53, 0, rdtime x14)
  TEST_OK_IN(54, 1, rdtime x14)
#endif
  csrw mcounteren, x0
  csrw scounteren, x0

  # ---- delegation: medeleg sends U/S exceptions to S; M-mode exceptions are never delegated ----
test_55:
  li gp, 55
  li t0, (1 << 8) | (1 << 2) | (1 << 3)    # ecall-from-U, illegal instruction, breakpoint
  csrw medeleg, t0
  CLEAR_TRAP
  EXPECT_TRAP
  MRET_TO(0, 1f)
1: la x5, 2f
  li a7, 1
2: ecall                             # U -> S handler
  CHECK_WORD(strap_cause, 8)
  CHECK_WORD_REG(strap_epc, x5)
  CHECK_WORD(strap_spp, 0)
  CHECK_WORD(strap_count, 1)
  CHECK_WORD(trap_count, 0)
  EXPECT_TRAP
  la x5, 3f
3: .word 0x0000000b                  # illegal in U -> S handler, stval = bits
  CHECK_WORD(strap_cause, 2)
  CHECK_WORD_REG(strap_epc, x5)
  lwu x6, 0(x5)
  CHECK_WORD_REG(strap_tval, x6)
  CHECK_WORD(trap_count, 0)
  GOTO_M(4f)                         # forwarded by the S handler to M
4:
test_56:                             # S-mode ebreak delegated: SPP = 1; sret returns to S
  li gp, 56
  CLEAR_TRAP
  EXPECT_TRAP
  MRET_TO(1, 1f)
1: la x5, 2f
2: ebreak
  CHECK_WORD(strap_cause, 3)
  CHECK_WORD_REG(strap_epc, x5)
  CHECK_WORD(strap_spp, 1)
  CHECK_WORD(trap_count, 0)
  csrr x14, sstatus                  # sret restored SIE from SPIE (0) and set SPIE
  andi x15, x14, MSTATUS_SPIE
  beqz x15, fail
  GOTO_M(3f)
3:
test_57:                             # ecall from S (9) is not in medeleg: goes to M
  li gp, 57
  CLEAR_TRAP
  EXPECT_TRAP
  MRET_TO(1, 1f)
1: li a7, 1
  ecall
  CHECK_WORD(trap_cause, 9)
  CHECK_WORD(strap_count, 0)
  GOTO_M(3f)
3:
test_58:                             # an M-mode breakpoint stays in M even though medeleg[3] = 1
  li gp, 58
  CLEAR_TRAP
  EXPECT_TRAP
  ebreak
  CHECK_WORD(trap_cause, 3)
  CHECK_WORD(strap_count, 0)
test_59:                             # sret to U: SPP -> 0, SIE <- SPIE; a U ecall then reaches S with SPP 0
  li gp, 59
  CLEAR_TRAP
  MRET_TO(1, 1f)
1: li t0, MSTATUS_SPP | MSTATUS_SIE
  csrc sstatus, t0
  li t0, MSTATUS_SPIE
  csrs sstatus, t0
  la t0, 2f
  csrw sepc, t0
  sret
2: EXPECT_TRAP
  li a7, 1
  ecall
  CHECK_WORD(strap_cause, 8)
  CHECK_WORD(strap_spp, 0)
  GOTO_M(3f)
3: csrr x14, mstatus                 # after sret: SPIE = 1 and SIE = old SPIE = 1 ... then the trap moved SIE to SPIE
  andi x15, x14, MSTATUS_SPIE
  beqz x15, fail
  csrw medeleg, x0

CODE_END
DATA_BEGIN
DATA_END
