# Misaligned loads and stores of every width and offset: the emulator performs them without trapping
# (privileged spec 3.6.3 allows this), with values identical to the byte-wise composition, including
# accesses that straddle a physical page boundary and ones that straddle two virtual pages mapped to
# non-adjacent physical pages (Sv39).
#include "test.h"
#include "vm.h"
CODE_BEGIN
  call reset_mdata
  TEST_CASE(1, x14, 0x7d58, la x11, mdata; lh x14, 9(x11))
  TEST_CASE(2, x14, 0xffffffffffffc7a2, la x11, mdata; lh x14, 11(x11))
  TEST_CASE(3, x14, 0x11ec, la x11, mdata; lh x14, 13(x11))
  TEST_CASE(4, x14, 0x5b36, la x11, mdata; lh x14, 15(x11))
  TEST_CASE(5, x14, 0x7d58, la x11, mdata; lhu x14, 9(x11))
  TEST_CASE(6, x14, 0xc7a2, la x11, mdata; lhu x14, 11(x11))
  TEST_CASE(7, x14, 0x11ec, la x11, mdata; lhu x14, 13(x11))
  TEST_CASE(8, x14, 0x5b36, la x11, mdata; lhu x14, 15(x11))
  TEST_CASE(9, x14, 0xffffffffc7a27d58, la x11, mdata; lw x14, 9(x11))
  TEST_CASE(10, x14, 0xffffffffecc7a27d, la x11, mdata; lw x14, 10(x11))
  TEST_CASE(11, x14, 0x11ecc7a2, la x11, mdata; lw x14, 11(x11))
  TEST_CASE(12, x14, 0x5b3611ec, la x11, mdata; lw x14, 13(x11))
  TEST_CASE(13, x14, 0xffffffff805b3611, la x11, mdata; lw x14, 14(x11))
  TEST_CASE(14, x14, 0xffffffffa5805b36, la x11, mdata; lw x14, 15(x11))
  TEST_CASE(15, x14, 0xc7a27d58, la x11, mdata; lwu x14, 9(x11))
  TEST_CASE(16, x14, 0xecc7a27d, la x11, mdata; lwu x14, 10(x11))
  TEST_CASE(17, x14, 0x11ecc7a2, la x11, mdata; lwu x14, 11(x11))
  TEST_CASE(18, x14, 0x5b3611ec, la x11, mdata; lwu x14, 13(x11))
  TEST_CASE(19, x14, 0x805b3611, la x11, mdata; lwu x14, 14(x11))
  TEST_CASE(20, x14, 0xa5805b36, la x11, mdata; lwu x14, 15(x11))
  TEST_CASE(21, x14, 0x5b3611ecc7a27d58, la x11, mdata; ld x14, 9(x11))
  TEST_CASE(22, x14, 0x805b3611ecc7a27d, la x11, mdata; ld x14, 10(x11))
  TEST_CASE(23, x14, 0xa5805b3611ecc7a2, la x11, mdata; ld x14, 11(x11))
  TEST_CASE(24, x14, 0xcaa5805b3611ecc7, la x11, mdata; ld x14, 12(x11))
  TEST_CASE(25, x14, 0xefcaa5805b3611ec, la x11, mdata; ld x14, 13(x11))
  TEST_CASE(26, x14, 0x14efcaa5805b3611, la x11, mdata; ld x14, 14(x11))
  TEST_CASE(27, x14, 0x3914efcaa5805b36, la x11, mdata; ld x14, 15(x11))
test_28:
  li gp, 28
  call reset_mdata
  la x11, mdata
  li x12, 0x8877665544332211
  sh x12, 17(x11)
  ld x14, 16(x11)
  li x7, 0x5e3914efca22115b
  bne x14, x7, fail
  ld x14, 24(x11)
  li x7, 0x86613c17f2cda883
  bne x14, x7, fail
test_29:
  li gp, 29
  call reset_mdata
  la x11, mdata
  li x12, 0x8877665544332211
  sh x12, 19(x11)
  ld x14, 16(x11)
  li x7, 0x5e39142211a5805b
  bne x14, x7, fail
  ld x14, 24(x11)
  li x7, 0x86613c17f2cda883
  bne x14, x7, fail
test_30:
  li gp, 30
  call reset_mdata
  la x11, mdata
  li x12, 0x8877665544332211
  sh x12, 21(x11)
  ld x14, 16(x11)
  li x7, 0x5e2211efcaa5805b
  bne x14, x7, fail
  ld x14, 24(x11)
  li x7, 0x86613c17f2cda883
  bne x14, x7, fail
test_31:
  li gp, 31
  call reset_mdata
  la x11, mdata
  li x12, 0x8877665544332211
  sh x12, 23(x11)
  ld x14, 16(x11)
  li x7, 0x113914efcaa5805b
  bne x14, x7, fail
  ld x14, 24(x11)
  li x7, 0x86613c17f2cda822
  bne x14, x7, fail
test_32:
  li gp, 32
  call reset_mdata
  la x11, mdata
  li x12, 0x8877665544332211
  sw x12, 17(x11)
  ld x14, 16(x11)
  li x7, 0x5e3914443322115b
  bne x14, x7, fail
  ld x14, 24(x11)
  li x7, 0x86613c17f2cda883
  bne x14, x7, fail
test_33:
  li gp, 33
  call reset_mdata
  la x11, mdata
  li x12, 0x8877665544332211
  sw x12, 19(x11)
  ld x14, 16(x11)
  li x7, 0x5e44332211a5805b
  bne x14, x7, fail
  ld x14, 24(x11)
  li x7, 0x86613c17f2cda883
  bne x14, x7, fail
test_34:
  li gp, 34
  call reset_mdata
  la x11, mdata
  li x12, 0x8877665544332211
  sw x12, 21(x11)
  ld x14, 16(x11)
  li x7, 0x332211efcaa5805b
  bne x14, x7, fail
  ld x14, 24(x11)
  li x7, 0x86613c17f2cda844
  bne x14, x7, fail
test_35:
  li gp, 35
  call reset_mdata
  la x11, mdata
  li x12, 0x8877665544332211
  sw x12, 23(x11)
  ld x14, 16(x11)
  li x7, 0x113914efcaa5805b
  bne x14, x7, fail
  ld x14, 24(x11)
  li x7, 0x86613c17f2443322
  bne x14, x7, fail
test_36:
  li gp, 36
  call reset_mdata
  la x11, mdata
  li x12, 0x8877665544332211
  sd x12, 17(x11)
  ld x14, 16(x11)
  li x7, 0x776655443322115b
  bne x14, x7, fail
  ld x14, 24(x11)
  li x7, 0x86613c17f2cda888
  bne x14, x7, fail
test_37:
  li gp, 37
  call reset_mdata
  la x11, mdata
  li x12, 0x8877665544332211
  sd x12, 19(x11)
  ld x14, 16(x11)
  li x7, 0x5544332211a5805b
  bne x14, x7, fail
  ld x14, 24(x11)
  li x7, 0x86613c17f2887766
  bne x14, x7, fail
test_38:
  li gp, 38
  call reset_mdata
  la x11, mdata
  li x12, 0x8877665544332211
  sd x12, 21(x11)
  ld x14, 16(x11)
  li x7, 0x332211efcaa5805b
  bne x14, x7, fail
  ld x14, 24(x11)
  li x7, 0x86613c8877665544
  bne x14, x7, fail
test_39:
  li gp, 39
  call reset_mdata
  la x11, mdata
  li x12, 0x8877665544332211
  sd x12, 23(x11)
  ld x14, 16(x11)
  li x7, 0x113914efcaa5805b
  bne x14, x7, fail
  ld x14, 24(x11)
  li x7, 0x8688776655443322
  bne x14, x7, fail
  # ---- straddling a physical page boundary ----
test_40:
  li gp, 40
  la x11, cross_end
  li x12, 0x0102030405060708
  sd x12, -3(x11)                   # bytes -3..4 around the boundary
  ld x14, -3(x11)
  bne x14, x12, fail
  lbu x14, -3(x11)
  li x7, 0x08
  bne x14, x7, fail
  lbu x14, 4(x11)
  li x7, 0x01
  bne x14, x7, fail
  lw x14, -2(x11)
  li x7, 0x04050607
  bne x14, x7, fail
  lhu x14, -1(x11)
  li x7, 0x0506
  bne x14, x7, fail
  # ---- straddling two virtual pages that map to non-adjacent physical pages ----
test_41:
  li gp, 41
  SET_PTE_ABS(pt_root, 2, 0x80000000, PTE_V|PTE_R|PTE_W|PTE_X|PTE_A|PTE_D)
  SET_PTE_SYM(pt_root, 1, pt_l1, PTE_V)
  SET_PTE_SYM(pt_l1, 0, pt_l0, PTE_V)
  SET_PTE_SYM(pt_l0, 0, page_a, PTE_V|PTE_R|PTE_W|PTE_A|PTE_D)
  SET_PTE_SYM(pt_l0, 1, page_c, PTE_V|PTE_R|PTE_W|PTE_A|PTE_D)
  la t0, page_b
  li t1, 0x0101010101010101
  sd t1, 0(t0)
  la t0, page_a + 4092
  li t1, 0x44332211
  sw t1, 0(t0)
  la t0, page_c
  li t1, 0x88776655
  sw t1, 0(t0)
  la t0, pt_root
  srli t0, t0, 12
  li t1, SATP_SV39
  or t0, t0, t1
  csrw satp, t0
  sfence.vma
  MRET_TO(1, s_cross)
s_cross:
  li x11, 0x40000ffc
  ld x14, 0(x11)
  li x7, 0x8877665544332211
  bne x14, x7, fail
  lw x14, 2(x11)
  li x7, 0x66554433
  bne x14, x7, fail
  lh x14, 3(x11)
  li x7, 0x5544
  bne x14, x7, fail
test_42:
  li gp, 42
  li x12, 0xa8a7a6a5a4a3a2a1
  sd x12, 1(x11)                    # VA 0x40000ffd..0x40001004
  la t0, page_a + 4092
  lwu x14, 0(t0)                    # (identity map) page_a's last 4 bytes are 11 a1 a2 a3
  li x7, 0xa3a2a111
  bne x14, x7, fail
  la t0, page_c
  lwu x14, 0(t0)
  li x7, 0xa7a6a5a4
  bne x14, x7, fail
  lbu x14, 4(t0)
  li x7, 0xa8
  bne x14, x7, fail
  la t0, page_b                     # the physically adjacent page was not touched
  ld x14, 0(t0)
  li x7, 0x0101010101010101
  bne x14, x7, fail
  # ---- misaligned AMO-free atomics are not involved; a misaligned fetch target (2 mod 4) is in rv64c ----
  GOTO_M(m_done)
m_done:
  csrw satp, x0
CODE_END

  .section .text
reset_mdata:
  la t0, mpattern
  la t1, mdata
  li t2, 64
1: lbu t3, 0(t0)
  sb t3, 0(t1)
  addi t0, t0, 1
  addi t1, t1, 1
  addi t2, t2, -1
  bnez t2, 1b
  ret

DATA_BEGIN
  .align 3
mpattern: .byte 0xb,0x30,0x55,0x7a,0x9f,0xc4,0xe9,0xe,0x33,0x58,0x7d,0xa2,0xc7,0xec,0x11,0x36,0x5b,0x80,0xa5,0xca,0xef,0x14,0x39,0x5e,0x83,0xa8,0xcd,0xf2,0x17,0x3c,0x61,0x86,0xab,0xd0,0xf5,0x1a,0x3f,0x64,0x89,0xae,0xd3,0xf8,0x1d,0x42,0x67,0x8c,0xb1,0xd6,0xfb,0x20,0x45,0x6a,0x8f,0xb4,0xd9,0xfe,0x23,0x48,0x6d,0x92,0xb7,0xdc,0x1,0x26
  .align 3
mdata: .skip 64
  .balign 4096
  .skip 4096 - 16
cross_end_minus16: .skip 16
cross_end: .skip 16
  .balign 4096
pt_root: .skip 4096
pt_l1: .skip 4096
pt_l0: .skip 4096
page_a: .skip 4096
page_b: .skip 4096
page_c: .skip 4096
DATA_END
