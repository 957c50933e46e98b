# Zicsr and Zicntr: all six CSR instruction forms, the rd=x0 / rs1=x0 write rules, read-only and
# unimplemented CSRs, WARL views (sstatus/sie/sip), mepc alignment, and the cycle/time/instret counters
# including exact instret counting, minstret writes and mcountinhibit.
#include "test.h"
CODE_BEGIN

  # ---- the six forms on mscratch: old value to rd, new value in the CSR ----
  TEST_CASE(1, x14, 0x0123456789abcdef, li x11, 0x0123456789abcdef; csrw mscratch, x11; csrr x14, mscratch)
  TEST_CASE(2, x14, 0x0123456789abcdef, li x11, -1; csrrw x14, mscratch, x11)
  TEST_CASE(3, x14, 0xffffffffffffffff, csrr x14, mscratch)
  TEST_CASE(4, x14, 0xffffffffffffffff, li x11, 0xf0; csrrc x14, mscratch, x11)
  TEST_CASE(5, x14, 0xffffffffffffff0f, csrr x14, mscratch)
  TEST_CASE(6, x14, 0xffffffffffffff0f, li x11, 0x30; csrrs x14, mscratch, x11)
  TEST_CASE(7, x14, 0xffffffffffffff3f, csrr x14, mscratch)
  TEST_CASE(8, x14, 0xffffffffffffff3f, csrrwi x14, mscratch, 0x15)
  TEST_CASE(9, x14, 0x15, csrr x14, mscratch)
  TEST_CASE(10, x14, 0x15, csrrsi x14, mscratch, 0x0a)
  TEST_CASE(11, x14, 0x1f, csrr x14, mscratch)
  TEST_CASE(12, x14, 0x1f, csrrci x14, mscratch, 0x11)
  TEST_CASE(13, x14, 0x0e, csrr x14, mscratch)
  TEST_CASE(14, x14, 0x1f, csrrwi x0, mscratch, 0x1f; csrr x14, mscratch)     # rd = x0 still writes
  TEST_CASE(15, x14, 0x1f, csrrs x14, mscratch, x0)                          # rs1 = x0: no write
  TEST_CASE(16, x14, 0x1f, csrrci x14, mscratch, 0; csrr x14, mscratch)
  TEST_CASE(17, x11, 0x1f, li x11, 0x7; csrrw x11, mscratch, x11)            # rd == rs1: old value out
  TEST_CASE(18, x14, 0x7, csrr x14, mscratch)

  # ---- read-only CSRs: reads (csrrs/csrrc with rs1=x0, csrrsi/csrrci with uimm=0) never trap ----
  TEST_NO_TRAP(19, csrr x14, mhartid; bnez x14, fail)
  TEST_NO_TRAP(20, csrrc x14, mvendorid, x0; csrrsi x14, marchid, 0; csrrci x14, mimpid, 0)
  # ... but any write attempt traps, even one that would not change the value (spec 2.8 / Zicsr).
  TEST_ILLEGAL(21, csrw mhartid, x0)
#ifndef QEMU_REFERENCE
  /* rs1 != x0 holding zero still attempts a write (Zicsr); QEMU 7.2 treats a zero mask as a read. */
  li x31, 0
  TEST_ILLEGAL(22, csrrs x14, mhartid, x31)
#endif
  TEST_ILLEGAL(23, csrrwi x0, mvendorid, 0)
  TEST_ILLEGAL(24, csrrsi x14, mimpid, 1)
  TEST_ILLEGAL(25, csrw cycle, x0)                                            # user counters are read-only
  TEST_ILLEGAL(26, csrrs x14, instret, x14)
  # ---- CSRs that do not exist are illegal, for reads too ----
  TEST_ILLEGAL(27, csrr x14, 0x8c0)
  TEST_ILLEGAL(28, csrr x14, 0x5c0)
  TEST_ILLEGAL(29, csrw 0x7ff, x0)

  # ---- misa: RV64, and I M A F D C S U present ----
test_30:
  li gp, 30
  csrr x14, misa
  srli x15, x14, 62
  li x7, 2
  bne x15, x7, fail
  li x7, (1 << 8) | (1 << 12) | (1 << 0) | (1 << 5) | (1 << 3) | (1 << 2) | (1 << 18) | (1 << 20)
  and x15, x14, x7
  bne x15, x7, fail

  # ---- mepc / sepc: bit 0 always reads zero (IALIGN = 16 with C) ----
#ifndef QEMU_REFERENCE
  /* Privileged spec 3.1.14: mepc[0] is always zero. QEMU 7.2 stores bit 0 and masks it only on mret. */
  TEST_CASE(31, x14, 0x80000002, li x11, 0x80000003; csrw mepc, x11; csrr x14, mepc)
  TEST_CASE(32, x14, 0x80001234, li x11, 0x80001235; csrw sepc, x11; csrr x14, sepc)
#endif
  # ---- mtvec: vectored mode (1) is kept ----
  TEST_CASE(33, x14, 1, la x11, mtrap_entry; ori x12, x11, 1; csrw mtvec, x12; csrr x14, mtvec; csrw mtvec, x11; andi x14, x14, 3)

  # ---- sstatus is a view of mstatus ----
test_34:
  li gp, 34
  li x11, MSTATUS_SUM
  csrs sstatus, x11
  csrr x14, mstatus
  and x14, x14, x11
  beqz x14, fail
  csrc mstatus, x11
  csrr x14, sstatus
  and x14, x14, x11
  bnez x14, fail
  li x11, MSTATUS_MPP            # MPP is not visible in sstatus
  csrs mstatus, x11
  csrr x14, sstatus
  and x14, x14, x11
  bnez x14, fail
  # ---- sie / sip: S-level bits are views of mie / mip when delegated ----
test_35:
  li gp, 35
  li x11, 0x222
  csrw mideleg, x11
  csrw mie, x0
  csrw sie, x11
  csrr x14, mie
  li x7, 0x222
  bne x14, x7, fail
  li x11, 0x888                  # M-level bits cannot be set through sie
  csrs sie, x11
  csrr x14, mie
  li x7, 0x222
  bne x14, x7, fail
  csrw mie, x0
  csrsi sip, 2                   # SSIP is writable through sip
  csrr x14, mip
  andi x14, x14, 2
  beqz x14, fail
  csrci mip, 2
  csrr x14, sip
  andi x14, x14, 2
  bnez x14, fail
  csrw mideleg, x0

  # ---- scratch / trap CSRs hold 64-bit values ----
  TEST_CASE(36, x14, 0x8000000000000001, li x11, 0x8000000000000001; csrw sscratch, x11; csrr x14, sscratch)
  TEST_CASE(37, x14, 0xfedcba9876543210, li x11, 0xfedcba9876543210; csrw mtval, x11; csrr x14, mtval)
  TEST_CASE(38, x14, 0x0123456789abcdef, li x11, 0x0123456789abcdef; csrw stval, x11; csrr x14, stval)
  TEST_CASE(39, x14, 11, li x11, 11; csrw mcause, x11; csrr x14, mcause)
  TEST_CASE(40, x14, 0x8000000000000005, li x11, 0x8000000000000005; csrw scause, x11; csrr x14, scause)

  # ---- PMP CSRs exist and store values (pmpaddr is WARL, 54 bits; L=0 so writes are allowed) ----
  TEST_CASE(41, x14, 0x123456789, li x11, 0x123456789; csrw pmpaddr0, x11; csrr x14, pmpaddr0)
  TEST_CASE(42, x14, 0x1f, li x11, 0x1f; csrw pmpaddr15, x11; csrr x14, pmpaddr15)
  TEST_NO_TRAP(43, csrr x14, pmpcfg0; csrr x14, pmpcfg2)
  # ---- envcfg CSRs exist ----
  TEST_NO_TRAP(44, csrr x14, 0x30a; csrr x14, 0x10a)     # menvcfg, senvcfg

  # ---- Zicntr: cycle, time and instret advance ----
test_45:
  li gp, 45
  rdcycle x11
  RDTIME(x12)
  rdinstret x13
  li x5, 1000
1: addi x5, x5, -1
  bnez x5, 1b
  rdcycle x14
  bleu x14, x11, fail
  rdinstret x14
  bleu x14, x13, fail
  li gp, 49
  li x5, 100000                  # time has 10 MHz resolution; spin until it moves
2: RDTIME(x14)
  bne x14, x12, 3f
  addi x5, x5, -1
  bnez x5, 2b
  j fail
3: bltu x14, x12, fail
  li gp, 50
  csrr x15, mcycle               # M-mode aliases read the same counters
  csrr x15, minstret
  bltu x15, x13, fail

  # ---- instret counts exactly: the first read retires, then 5 nops, then the second read ----
test_46:
  li gp, 46
  rdinstret x11
  nop
  nop
  nop
  nop
  nop
  rdinstret x12
  sub x14, x12, x11
  li x7, 6
  bne x14, x7, fail              # (validated on QEMU with -icount shift=0, which counts exactly)
  # a taken branch loop of 100 iterations: 2 instructions each, + the first rdinstret + the li
  rdinstret x11
  li x5, 100
1: addi x5, x5, -1
  bnez x5, 1b
  rdinstret x12
  sub x14, x12, x11
  li x7, 202
  bne x14, x7, fail

  # ---- minstret is writable: the next read sees the written value plus what retired since ----
test_47:
  li gp, 47
  li x11, 1000000
  csrw minstret, x11
  csrr x14, minstret
  sub x14, x14, x11
  li x7, 2
  bgtu x14, x7, fail
  li x11, 0x100000000            # and holds 64 bits
  csrw minstret, x11
  rdinstret x14
  bltu x14, x11, fail

  # ---- mcountinhibit.IR stops instret; CY stops cycle ----
test_48:
  li gp, 48
  csrwi mcountinhibit, 5
  rdinstret x11
  nop
  nop
  rdinstret x12
  rdcycle x13
  nop
  rdcycle x14
  csrwi mcountinhibit, 0
  bne x11, x12, fail
  bne x13, x14, fail
  rdinstret x11
  nop
  rdinstret x12
  beq x11, x12, fail

CODE_END
DATA_BEGIN
DATA_END
