# RV64I base integer instructions: every ALU op incl. W forms, shifts, LUI/AUIPC, branches, jumps, loads/stores.
#include "test.h"
CODE_BEGIN

  # ---- ADD/SUB/ADDI and W forms ----
  TEST_RR(1, add, 0x0000000000000000, 0, 0)
  TEST_RR(2, add, 0x0000000000000002, 1, 1)
  TEST_RR(3, add, 0xffffffff80000000, 0xffffffff80000000, 0)
  TEST_RR(4, add, 0x8000000000000000, 0x7fffffffffffffff, 1)
  TEST_RR(5, add, 0x0000000000000000, 0xffffffffffffffff, 1)
  TEST_RR(6, sub, 0xffffffffffffffff, 0, 1)
  TEST_RR(7, sub, 0x7fffffffffffffff, 0x8000000000000000, 1)
  TEST_RI(8, addi, 0xfffffffffffff800, 0, -2048)
  TEST_RI(9, addi, 0x00000000000007ff, 0, 2047)
  TEST_RI(10, addi, 0x8000000000000000, 0x7fffffffffffffff, 1)
  TEST_RR(11, addw, 0xffffffff80000000, 0x7fffffff, 1)
  TEST_RR(12, addw, 0x0000000000000000, 0xffffffff, 1)
  TEST_RR(13, addw, 0x0000000012345678, 0xabcdef0012345678, 0)
  TEST_RR(14, subw, 0x000000007fffffff, 0x80000000, 1)
  TEST_RR(15, subw, 0xffffffffffffffff, 0x100000000, 1)
  TEST_RI(16, addiw, 0xffffffff80000000, 0x7fffffff, 1)
  TEST_RI(17, addiw, 0xfffffffffffff800, 0x100000000, -2048)
  TEST_RI(18, addiw, 0x0000000000000001, 0xffffffff00000001, 0)   # sext.w
  TEST_RR_SRC1_EQ_DEST(19, add, 24, 13, 11)
  TEST_RR_ZERODEST(20, add, 1, 2)

  # ---- logic ----
  TEST_RR(21, and, 0x0f000f00f000f00f, 0xff00ff00f0f0ff0f, 0x0f0f0f0fff0ff0ff)
  TEST_RR(22, or,  0xff0fff0fffffffff, 0xff00ff00f0f0ff0f, 0x0f0f0f0fff0ff0ff)
  TEST_RR(23, xor, 0xf00ff00f0fff0ff0, 0xff00ff00f0f0ff0f, 0x0f0f0f0fff0ff0ff)
  TEST_RI(24, andi, 0xff00ff00f0f0ff00, 0xff00ff00f0f0ff0f, -0x100)
  TEST_RI(25, ori,  0xffffffffffffff0f, 0xff00ff00f0f0ff0f, -0xf1)
  TEST_RI(26, xori, 0x00ff00ff0f0f00f0, 0xff00ff00f0f0ff0f, -1)
  TEST_RI(27, andi, 0x000000000000000f, 0xff00ff00f0f0ff0f, 0x7ff & 0xff)

  # ---- compares ----
  TEST_RR(28, slt, 1, -1, 0)
  TEST_RR(29, slt, 0, 0, -1)
  TEST_RR(30, slt, 1, 0x8000000000000000, 0x7fffffffffffffff)
  TEST_RR(31, sltu, 0, -1, 0)
  TEST_RR(32, sltu, 1, 0, -1)
  TEST_RR(33, sltu, 0, 5, 5)
  TEST_RI(34, slti, 1, -5, -4)
  TEST_RI(35, slti, 0, 0x7fffffffffffffff, -1)
  TEST_RI(36, sltiu, 1, 5, -1)          # imm sign-extended then unsigned: 5 < 2^64-1
  TEST_RI(37, sltiu, 0, -1, -1)
  TEST_RI(38, sltiu, 1, 0, 1)           # seqz

  # ---- shifts by 0/1/31/32/63, W forms ----
  TEST_RR(39, sll, 0x8000000000000000, 1, 63)
  TEST_RR(40, sll, 0x0000000100000000, 1, 32)
  TEST_RR(41, sll, 0x0000000080000000, 1, 31)
  TEST_RR(42, sll, 0x0000000000000001, 1, 64)        # only low 6 bits of rs2 count
  TEST_RR(43, sll, 0x123456789abcdef0, 0x123456789abcdef0, 0)
  TEST_RR(44, srl, 0x0000000000000001, 0x8000000000000000, 63)
  TEST_RR(45, srl, 0x0000000080000000, 0x8000000000000000, 32)
  TEST_RR(46, srl, 0x00000001ffffffff, 0xffffffffffffffff, 31)
  TEST_RR(47, sra, 0xffffffffffffffff, 0x8000000000000000, 63)
  TEST_RR(48, sra, 0xffffffff80000000, 0x8000000000000000, 32)
  TEST_RR(49, sra, 0x0000000000000000, 0x7fffffffffffffff, 63)
  TEST_RR(50, sra, 0xc000000000000000, 0x8000000000000000, 0xffffffc1) # rs2 & 63 = 1
  TEST_RI(51, slli, 0x8000000000000000, 1, 63)
  TEST_RI(52, srli, 0x0000000000000001, 0x8000000000000000, 63)
  TEST_RI(53, srai, 0xffffffffffffffff, 0x8000000000000000, 63)
  TEST_RI(54, srai, 0xfffffffff8000000, 0xffffffff80000000, 4)
  TEST_RI(55, slli, 0xabcd, 0xabcd, 0)
  TEST_RR(56, sllw, 0xffffffff80000000, 1, 31)
  TEST_RR(57, sllw, 0x0000000000000001, 1, 32)       # only low 5 bits count
  TEST_RR(58, sllw, 0x0000000012345678, 0xffffffff12345678, 0)
  TEST_RR(59, srlw, 0x0000000000000001, 0x80000000, 31)
  TEST_RR(60, srlw, 0x000000007fffffff, 0xffffffffffffffff, 1)
  TEST_RR(61, srlw, 0xffffffff80000000, 0x0000000080000000, 0) # shift 0 sign-extends
  TEST_RR(62, sraw, 0xffffffffffffffff, 0x80000000, 31)
  TEST_RR(63, sraw, 0xffffffffc0000000, 0x80000000, 1)
  TEST_RR(64, sraw, 0x0000000000000001, 0xffffffff00000001, 0)
  TEST_RI(65, slliw, 0xffffffff80000000, 1, 31)
  TEST_RI(66, slliw, 0x0000000000000000, 0x100000000, 0)
  TEST_RI(67, srliw, 0x0000000000000001, 0x80000000, 31)
  TEST_RI(68, srliw, 0xffffffff80000000, 0x80000000, 0)
  TEST_RI(69, sraiw, 0xffffffffffffffff, 0x80000000, 31)
  TEST_RI(70, sraiw, 0x0000000007ffffff, 0xf7fffffff, 4)

  # ---- LUI / AUIPC ----
  TEST_CASE(71, x14, 0xffffffff80000000, lui x14, 0x80000)
  TEST_CASE(72, x14, 0x000000007ffff000, lui x14, 0x7ffff)
  TEST_CASE(73, x14, 0, lui x14, 0)
test_74:
  li gp, 74
  la x11, 1f
1: auipc x14, 0
  bne x11, x14, fail
  la x11, 1f
1: auipc x14, 0x80000          # pc - 2^31 (immediate sign-extended)
  li x12, 0x80000000
  add x14, x14, x12
  bne x11, x14, fail

  # ---- branches, both directions, taken and not taken ----
test_75:
  li gp, 75
  li x11, -1
  li x12, 1
  blt x12, x11, fail
  bge x11, x12, fail
  bltu x11, x12, fail
  bgeu x12, x11, fail
  beq x11, x12, fail
  bne x11, x11, fail
  li x13, 0
  blt x11, x12, 1f
  j fail
2: addi x13, x13, 1           # reached by a backward branch
  bgeu x11, x12, 3f
  j fail
1: bltu x12, x11, 2b
  j fail
3: bge x12, x11, 4f
  j fail
4: beq x13, x13, 5f
  j fail
5: bne x11, x12, 6f
  j fail
6: bge x11, x11, 7f            # equal: taken
  j fail
7: bgeu x11, x11, 8f
  j fail
8: li x7, 1
  bne x13, x7, fail

  # ---- JAL / JALR ----
test_76:
  li gp, 76
  la x11, 1f
  jal x1, 2f
1: j fail
2: bne x1, x11, fail
  jal x0, 3f                   # j: rd=x0 untouched
  j fail
3:
test_77:
  li gp, 77
  la x12, 4f
  addi x12, x12, 1              # LSB set: JALR clears it
  la x11, 5f
  jalr x1, 0(x12)
5: j fail
4: bne x1, x11, fail
  la x12, 6f
  addi x12, x12, -8
  jalr x1, 8(x12)               # offset added before clearing
  j fail
6: la x12, 7f
  jalr x12, 0(x12)              # rd == rs1: target uses the old value
  j fail
7: la x11, 7b
  addi x11, x11, -4
  bne x12, x11, fail

  # ---- loads: all widths, sign/zero extension ----
#define LOAD(n, inst, off, result) TEST_CASE(n, x14, result, la x11, ldata; inst x14, off(x11))
  LOAD(78, lb,  0, 0xffffffffffffff88)
  LOAD(79, lbu, 0, 0x88)
  LOAD(80, lb,  7, 0x11)
  LOAD(81, lh,  0, 0x7788 - 0x10000 + 0x10000)  # 0x7788 is positive
  LOAD(82, lh,  2, 0xffffffffffff9566)
  LOAD(83, lhu, 2, 0x9566)
  LOAD(84, lh,  4, 0x3344)
  LOAD(85, lw,  0, 0xffffffff95667788)
  LOAD(86, lwu, 0, 0x0000000095667788)
  LOAD(87, lw,  4, 0x11223344)
  LOAD(88, ld,  0, 0x1122334495667788)
  LOAD(89, ld,  8, 0xfedcba9876543210)
  LOAD(90, lb,  -1, 0xffffffffffffffa5)
  LOAD(91, lhu, 14, 0xfedc)
test_92:
  li gp, 92
  # x85 check above needs lw result to be sign-extended; case 84 compares against a 32-bit constant
  # (li sign-extends it), so both express the same value.

  # ---- stores: all widths, only the addressed bytes change ----
test_93:
  li gp, 93
  la x11, sdata
  li x12, -1
  sd x12, 0(x11)
  sd x12, 8(x11)
  li x13, 0x0123456789abcdef
  sb x13, 0(x11)
  sh x13, 2(x11)
  sw x13, 4(x11)
  sd x13, 8(x11)
  ld x14, 0(x11)
  li x7, 0x89abcdefcdefffef
  bne x14, x7, fail
  ld x14, 8(x11)
  bne x14, x13, fail
test_94:
  li gp, 94
  sb x0, -1(x11)                 # negative offset
  lbu x14, -1(x11)
  bnez x14, fail
  li x12, 0x5a
  sb x12, 15(x11)
  lbu x14, 15(x11)
  bne x14, x12, fail
  ld x14, 8(x11)
  li x7, 0x5a23456789abcdef
  bne x14, x7, fail

  # ---- x0 is hard-wired zero; FENCE/FENCE.I/NOP execute ----
test_95:
  li gp, 95
  li x0, 123
  addi x0, x0, 5
  bnez x0, fail
  fence
  fence rw, rw
  fence.i
  nop
  # ---- a store followed by fence.i then executing the stored code (self-modifying code) ----
test_96:
  li gp, 96
  la x11, smc
  li x12, 0x02a00713            # addi x14, x0, 42
  sw x12, 0(x11)
  fence.i
  li x14, 0
  jalr x1, 0(x11)
  li x7, 42
  bne x14, x7, fail
  li x12, 0x06300713            # addi x14, x0, 99 (overwrite the code again)
  sw x12, 0(x11)
  fence.i
  jalr x1, 0(x11)
  li x7, 99
  bne x14, x7, fail

CODE_END

  .section .text
  .align 4
smc:
  nop
  ret

DATA_BEGIN
  .align 3
  .skip 7
  .byte 0xa5
ldata:
  .dword 0x1122334495667788
  .dword 0xfedcba9876543210
  .byte 0
  .align 3
  .byte 0x77
  .align 3
sdata: .dword 0, 0, 0
DATA_END
