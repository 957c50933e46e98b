# RV64C: every compressed instruction (forced with c.* mnemonics), 32-bit instructions at 2-byte
# alignment and straddling a page boundary, c.ebreak (cause 3), and reserved encodings as illegal.
#include "test.h"
CODE_BEGIN
  .option rvc
  li t0, (1 << 13)                  # mstatus.FS = Initial so c.fld/c.fsd/c.fldsp/c.fsdsp are legal
  csrs mstatus, t0
  la s1, cdata                      # x9: data base for CL/CS forms throughout

  # ---- CIW / CL / CS ----
test_1:
  li gp, 1
  mv x15, sp
  c.addi4spn x8, sp, 1020
  sub x14, x8, x15
  li x7, 1020
  bne x14, x7, fail
  c.addi4spn x8, sp, 4
  sub x14, x8, x15
  li x7, 4
  bne x14, x7, fail
  TEST_CASE(2, x10, 0xffffffff80000001, c.lw x10, 4(x9))
  TEST_CASE(3, x10, 0x7fffffff, c.lw x10, 124(x9))
  TEST_CASE(4, x10, 0x8000000180000001, c.ld x10, 0(x9))
  TEST_CASE(5, x10, 0x0123456789abcdef, c.ld x10, 248(x9))
test_6:
  li gp, 6
  li x10, 0x1122334455667788
  c.sw x10, 16(x9)
  c.sd x10, 24(x9)
  ld x14, 16(x9)
  li x7, 0x0000000055667788    # upper bytes were zero
  bne x14, x7, fail
  ld x14, 24(x9)
  bne x14, x10, fail
test_7:
  li gp, 7
  c.fld f8, 0(x9)
  c.fsd f8, 32(x9)
  ld x14, 32(x9)
  ld x7, 0(x9)
  bne x14, x7, fail
  fmv.x.d x14, f8
  bne x14, x7, fail

  # ---- CI: nop, addi, addiw, li, addi16sp, lui, slli ----
  TEST_CASE(8, x14, 5, li x14, 5; c.nop; c.nop)
  TEST_CASE(9, x14, 0xffffffffffffffdf, li x14, 0; c.addi x14, -32; c.addi x14, -1)
  TEST_CASE(10, x14, 31, li x14, 0; c.addi x14, 31)
  TEST_CASE(11, x14, 0xffffffff80000000, li x14, 0x7fffffff; c.addiw x14, 1)
  TEST_CASE(12, x14, 0x0000000000000005, li x14, 0xffffffff00000005; c.addiw x14, 0)   # sext.w
  TEST_CASE(13, x14, 0xffffffffffffffe0, c.li x14, -32)
  TEST_CASE(14, x14, 31, c.li x14, 31)
test_15:
  li gp, 15
  mv x15, sp
  c.addi16sp sp, -512
  sub x14, x15, sp
  li x7, 512
  bne x14, x7, fail
  c.addi16sp sp, 496
  c.addi16sp sp, 16
  bne sp, x15, fail
  TEST_CASE(16, x14, 0xfffffffffffe1000, c.lui x14, 0xfffe1)
  TEST_CASE(17, x14, 0x000000000001f000, c.lui x14, 0x1f)
  TEST_CASE(18, x14, 0x0000000000001000, c.lui x14, 1)
  TEST_CASE(19, x14, 0x8000000000000000, li x14, 1; c.slli x14, 63)
  TEST_CASE(20, x14, 0x0000000100000000, li x14, 1; c.slli x14, 32)

  # ---- CB: srli, srai, andi; CA: sub, xor, or, and, subw, addw ----
  TEST_CASE(21, x8, 1, li x8, 0x8000000000000000; c.srli x8, 63)
  TEST_CASE(22, x8, 0x80000000, li x8, 0x8000000000000000; c.srli x8, 32)
  TEST_CASE(23, x8, 0xffffffffffffffff, li x8, 0x8000000000000000; c.srai x8, 63)
  TEST_CASE(24, x8, 0xc000000000000000, li x8, 0x8000000000000000; c.srai x8, 1)
  TEST_CASE(25, x8, 0x1234567890abcde0, li x8, 0x1234567890abcdef; c.andi x8, -32)
  TEST_CASE(26, x8, 0x000000000000000f, li x8, 0x1234567890abcdef; c.andi x8, 31)
  TEST_CASE(27, x8, 0xfffffffffffffffd, li x8, 2; li x9, 5; c.sub x8, x9; la x9, cdata)
  TEST_CASE(28, x8, 0x0ff0, li x8, 0x0f0f; li x10, 0x00ff; c.xor x8, x10)
  TEST_CASE(29, x8, 0x0fff, li x8, 0x0f0f; li x10, 0x00ff; c.or x8, x10)
  TEST_CASE(30, x8, 0x000f, li x8, 0x0f0f; li x10, 0x00ff; c.and x8, x10)
  TEST_CASE(31, x8, 0x000000007fffffff, li x8, 0x80000000; li x10, 1; c.subw x8, x10)
  TEST_CASE(32, x8, 0xffffffff80000000, li x8, 0x7fffffff; li x10, 1; c.addw x8, x10)
  TEST_CASE(33, x8, 0xffffffffffffffff, li x8, 0x100000000; li x10, 0xffffffff; c.addw x8, x10)

  # ---- CJ / CB branches, both directions ----
test_34:
  li gp, 34
  li x14, 0
  c.j 2f
1: c.addi x14, 1                 # backward target
  c.j 3f
2: c.j 1b
  j fail
3: li x7, 1
  bne x14, x7, fail
test_35:
  li gp, 35
  li x8, 0
  li x10, 7
  c.bnez x8, 9f                  # not taken
  c.beqz x10, 9f                 # not taken
  c.beqz x8, 1f                  # taken forward
  j fail
2: c.bnez x10, 3f                # taken forward (after a backward hop)
  j fail
1: c.beqz x8, 2b                 # taken backward
  j fail
9: j fail
3:
  # ---- CSS / CI stack forms ----
test_36:
  li gp, 36
  addi sp, sp, -64
  li x10, 0xfedcba9876543210
  c.sdsp x10, 8(sp)
  c.swsp x10, 16(sp)
  sd x0, 24(sp)
  c.ldsp x14, 8(sp)
  bne x14, x10, fail
  c.lwsp x14, 16(sp)
  li x7, 0x0000000076543210
  bne x14, x7, fail
  li x10, 0x80000000
  c.swsp x10, 20(sp)
  c.lwsp x14, 20(sp)
  li x7, 0xffffffff80000000
  bne x14, x7, fail
  c.fldsp f9, 8(sp)
  c.fsdsp f9, 32(sp)
  ld x14, 32(sp)
  li x7, 0xfedcba9876543210
  bne x14, x7, fail
  c.sdsp x10, 504(sp)            # largest offset
  c.ldsp x14, 504(sp)
  bne x14, x10, fail
  addi sp, sp, 64

  # ---- CR: jr, mv, jalr, add ----
test_37:
  li gp, 37
  la x10, 1f
  c.jr x10
  j fail
1: la x10, 3f
  c.jalr x10                     # ra = address of the next (2-byte) instruction
2: j fail
3: la x7, 2b
  bne ra, x7, fail
  TEST_CASE(38, x14, 0x1234, li x15, 0x1234; c.mv x14, x15)
  TEST_CASE(39, x14, 0x1000000000000233, li x14, 0x1000000000000200; li x15, 0x33; c.add x14, x15)

  # ---- c.jalr target with LSB set is cleared; c.jalr ra, ra uses the old value ----
test_40:
  li gp, 40
  la x10, 1f
  addi x10, x10, 1
  c.jalr x10
  j fail
  .align 2
1: la ra, 2f
  c.jalr ra
  j fail
2: la x7, 2b
  addi x7, x7, -2
  bne ra, x7, fail

  # ---- 32-bit instruction at a 2-byte (not 4-byte) aligned address, and one straddling a page ----
test_41:
  li gp, 41
  call straddle
  li x7, 0x12345
  bne x14, x7, fail

  # ---- c.ebreak: cause 3, mepc at the 2-byte instruction ----
test_42:
  li gp, 42
  CLEAR_TRAP
  EXPECT_TRAP
  RESUME_AT(2f)
1: c.ebreak
  j fail
2: CHECK_WORD(trap_cause, 3)
  la x7, 1b
  CHECK_WORD_REG(trap_epc, x7)
  la t1, trap_tval; ld t1, 0(t1)      # mtval: 0 or the pc (privileged spec 3.1.16)
  beqz t1, 3f
  bne t1, x7, fail
3:
  # ---- reserved compressed encodings are illegal; mtval holds the 16 instruction bits ----
#define ILLEGAL16(n, bits)       \
test_##n:                        \
  li gp, n;                      \
  CLEAR_TRAP;                    \
  EXPECT_TRAP;                   \
  RESUME_AT(2f);                 \
1: .2byte bits;                  \
  j fail;                        \
2: CHECK_WORD(trap_cause, 2);    \
  la x7, 1b;                     \
  CHECK_WORD_REG(trap_epc, x7);  \
  CHECK_WORD(trap_tval, bits)
  ILLEGAL16(43, 0x0000)                # all zeros
  ILLEGAL16(44, 0x0004)                # c.addi4spn with nzuimm = 0
  ILLEGAL16(45, 0x6101 & ~0x107c)      # c.addi16sp with nzimm = 0 (0x6101 with imm bits cleared)
  ILLEGAL16(46, 0x6701 & ~0x107c)      # c.lui x14 with nzimm = 0
  ILLEGAL16(47, 0x4002)                # c.lwsp x0 (rd = 0 reserved)
  ILLEGAL16(48, 0x8002)                # c.jr x0 (rs1 = 0 reserved)
  ILLEGAL16(49, 0x6002)                # c.ldsp x0 (rd = 0 reserved)
  li t0, 0
  nop
CODE_END

  .section .text
  .option rvc
  .balign 4096
  .skip 4096 - 4
straddle:                         # page offset 0xffc
  c.li x14, 0                     # 0xffc (2 bytes)
  .option norvc
  lui x14, 0x12                   # 0xffe..0x1001: a 4-byte instruction straddling two pages
  .option rvc
  c.nop                           # 0x002
  c.nop                           # 0x004
  .option norvc
  addiw x14, x14, 0x345           # 0x006: a 4-byte instruction at a 2-mod-4 address
  .option rvc
  c.jr ra

DATA_BEGIN
  .align 3
cdata:
  .dword 0x8000000180000001
  .skip 124 - 8
  .word 0x7fffffff
  .skip 248 - 128
  .dword 0x0123456789abcdef
DATA_END
