# Sv39 paging: 4 KiB, 2 MiB and 1 GiB pages, hardware A/D updates, R/W/X/U permissions with SUM and
# MXR, execute-only pages, load/store/fetch page faults with exact stval, invalid and reserved PTEs,
# misaligned superpages, non-canonical addresses, delegation of page faults, sfence.vma, and satp
# writes with unsupported modes (ignored).
#include "test.h"
#include "vm.h"
#define VA4K   0x40000000          /* root[1] -> l1[0] -> l0[i]: 4 KiB test pages, page i at VA4K + i*4K */
#define VA2M   0x40200000          /* root[1] -> l1[1]: a 2 MiB page at PA 0x80400000 */
#define VA2MBAD 0x40400000         /* root[1] -> l1[2]: a 2 MiB leaf with a misaligned PPN */
#define VA1G   0xc0000000          /* root[3]: a 1 GiB page at PA 0x80000000 (alias of RAM) */
#define PA2M   0x80400000
CODE_BEGIN
  # ---- build the tables (M-mode, physical) ----
  SET_PTE_ABS(pt_root, 2, 0x80000000, PTE_V|PTE_R|PTE_W|PTE_X|PTE_A|PTE_D)  # identity 1 GiB for code/data
  SET_PTE_SYM(pt_root, 1, pt_l1, PTE_V)
  SET_PTE_ABS(pt_root, 3, 0x80000000, PTE_V|PTE_R|PTE_W|PTE_A|PTE_D)        # 1 GiB alias, not executable
  SET_PTE_SYM(pt_l1, 0, pt_l0, PTE_V)
  SET_PTE_ABS(pt_l1, 1, PA2M, PTE_V|PTE_R|PTE_W|PTE_A|PTE_D)
  SET_PTE_ABS(pt_l1, 2, PA2M + 0x1000, PTE_V|PTE_R|PTE_W|PTE_A|PTE_D)      # misaligned superpage
  SET_PTE_SYM(pt_l0, 0, page0, PTE_V|PTE_R|PTE_W)                          # A = D = 0
  SET_PTE_SYM(pt_l0, 1, page1, PTE_V|PTE_R|PTE_A)                          # read-only
  SET_PTE_SYM(pt_l0, 2, xonly_code, PTE_V|PTE_X|PTE_A)                     # execute-only
  SET_PTE_SYM(pt_l0, 3, page3, PTE_V|PTE_R|PTE_W|PTE_X|PTE_U|PTE_A|PTE_D)  # user page
  SET_PTE_SYM(pt_l0, 4, page4, PTE_R|PTE_W|PTE_A|PTE_D)                    # V = 0
  SET_PTE_SYM(pt_l0, 5, page4, PTE_V|PTE_W|PTE_A|PTE_D)                    # W without R: reserved
  SET_PTE_SYM(pt_l0, 6, page4, PTE_V)                                      # pointer at level 0
  SET_PTE_SYM(pt_l0, 7, page1, PTE_V|PTE_R|PTE_A)                          # second alias of page1
  SET_PTE_SYM(pt_l0, 8, page3, PTE_V|PTE_R|PTE_W|PTE_A)                    # writable, D = 0
  SET_PTE_SYM(pt_l0, 10, u_code, PTE_V|PTE_R|PTE_X|PTE_U|PTE_A)            # user code
  la t0, pt_root
  srli t0, t0, 12
  li t1, SATP_SV39
  or t0, t0, t1
  csrw satp, t0
  sfence.vma
  csrr t1, satp
  bne t0, t1, fail
  MRET_TO(1, s_main)

s_main:
  # ---- 4 KiB page: a load sets A, a store sets D (hardware update, spec 4.3.1) ----
test_1:
  li gp, 1
  li x11, VA4K
  ld x14, 8(x11)
  li x7, 0x1111111111111111
  bne x14, x7, fail
  la t0, pt_l0
  ld t1, 0(t0)
  andi t2, t1, PTE_A
  beqz t2, fail
  andi t2, t1, PTE_D
  bnez t2, fail
test_2:
  li gp, 2
  li x12, 0x2222
  sd x12, 16(x11)
  la t0, pt_l0
  ld t1, 0(t0)
  andi t2, t1, PTE_D
  beqz t2, fail
  la t0, page0                     # the store reached the physical page
  ld x14, 16(t0)
  bne x14, x12, fail
  # ---- store to a clean writable page (D = 0, A = 1) sets D ----
test_3:
  li gp, 3
  li x11, VA4K + 8 * 0x1000
  sd x0, 0x100(x11)
  la t0, pt_l0
  ld t1, 8 * 8(t0)
  andi t2, t1, PTE_D
  beqz t2, fail
  # ---- read-only page: loads work, stores fault (15) with stval = VA ----
  TEST_CASE(4, x14, 0x3333333333333333, li x11, VA4K + 0x1000; ld x14, 0(x11))
  TEST_PF(5, 15, VA4K + 0x1008, sd x0, 0(x11))
  TEST_PF(6, 15, VA4K + 0x1010, amoadd.d x14, x0, (x11))
  TEST_PF(7, 15, VA4K + 7 * 0x1000 + 0x18, sw x0, 0(x11))
  # ---- execute-only page: fetch works, loads fault unless MXR (spec 4.3.1) ----
test_8:
  li gp, 8
  li x11, VA4K + 2 * 0x1000
  li a0, 0
  jalr ra, 0(x11)
  li x7, 42
  bne a0, x7, fail
  TEST_PF(9, 13, VA4K + 2 * 0x1000 + 4, lw x14, 0(x11))
test_10:
  li gp, 10
  li t0, MSTATUS_MXR
  csrs sstatus, t0
  li x11, VA4K + 2 * 0x1000
  lwu x14, 0(x11)
  la t0, xonly_code
  lwu x7, 0(t0)
  bne x14, x7, fail
  li t0, MSTATUS_MXR
  csrc sstatus, t0
  TEST_PF(11, 15, VA4K + 2 * 0x1000, sw x0, 0(x11))     # MXR never allows stores
  # ---- non-executable pages: fetch faults (12) ----
  TEST_FETCH_PF(12, VA4K + 0x1000)
  TEST_FETCH_PF(13, VA1G + 0x1000)
  # ---- user page from S: loads/stores fault unless SUM; fetch always faults ----
  TEST_PF(14, 13, VA4K + 3 * 0x1000 + 0x20, ld x14, 0(x11))
  TEST_PF(15, 15, VA4K + 3 * 0x1000 + 0x28, sd x0, 0(x11))
  TEST_FETCH_PF(39, VA4K + 3 * 0x1000)                  # S never executes U pages
test_16:
  li gp, 16
  li t0, MSTATUS_SUM
  csrs sstatus, t0
  li x11, VA4K + 3 * 0x1000
  li x12, 0x5555
  sd x12, 0x30(x11)
  ld x14, 0x30(x11)
  bne x14, x12, fail
#ifndef QEMU_REFERENCE
  /* QEMU 7.2 reuses the TLB entry filled by the SUM data access above and executes the page. */
  TEST_FETCH_PF(17, VA4K + 3 * 0x1000)                  # SUM does not allow S to execute U pages
#endif
  li t0, MSTATUS_SUM
  csrc sstatus, t0
  # ---- invalid, reserved (W without R) and level-0 pointer PTEs fault ----
  TEST_PF(18, 13, VA4K + 4 * 0x1000 + 0x123, lbu x14, 0(x11))
  TEST_PF(19, 15, VA4K + 4 * 0x1000 + 0x456, sb x0, 0(x11))
  TEST_FETCH_PF(20, VA4K + 4 * 0x1000)
  TEST_PF(21, 13, VA4K + 5 * 0x1000 + 0x10, ld x14, 0(x11))
  TEST_PF(22, 15, VA4K + 5 * 0x1000 + 0x10, sd x0, 0(x11))
  TEST_PF(23, 13, VA4K + 6 * 0x1000, ld x14, 0(x11))
  TEST_PF(24, 13, VA4K + 9 * 0x1000, ld x14, 0(x11))    # l0[9] is zero
  TEST_PF(25, 13, 0x00000000, ld x14, 0(x11))           # root[0] is zero
  # ---- non-canonical VA (bits 63:39 not all equal to bit 38): page fault with stval = VA ----
  TEST_PF(26, 13, 0x0000008000000000, ld x14, 0(x11))
  TEST_PF(27, 15, 0xffffff0040000000 ^ 0x0000010000000000, sd x0, 0(x11))
  # ---- 2 MiB page ----
test_28:
  li gp, 28
  li x11, VA2M + 0x1ff008
  li x12, 0x1234567887654321
  sd x12, 0(x11)
  li t0, PA2M + 0x1ff008           # visible at the physical address through the identity map
  ld x14, 0(t0)
  bne x14, x12, fail
  # ---- misaligned 2 MiB superpage: page fault (spec 4.3.2 step 6) ----
  TEST_PF(29, 13, VA2MBAD + 0x10, ld x14, 0(x11))
  TEST_PF(30, 15, VA2MBAD + 0x20, sd x0, 0(x11))
  # ---- 1 GiB page aliasing RAM ----
test_31:
  li gp, 31
  la t0, page1
  li t1, 0x80000000
  sub t0, t0, t1
  li t1, VA1G
  add t0, t0, t1
  ld x14, 0(t0)
  li x7, 0x3333333333333333
  bne x14, x7, fail
  # ---- sfence.vma: after remapping a page and fencing, the new mapping is used ----
test_32:
  li gp, 32
  li x11, VA4K + 7 * 0x1000
  ld x14, 0(x11)                   # cache the old translation (page1)
  la t5, page3
  SET_PTE(pt_l0, 7, t5, PTE_V|PTE_R|PTE_A)
  sfence.vma
  ld x14, 0x30(x11)
  li x7, 0x5555
  bne x14, x7, fail
  la t5, page1
  SET_PTE(pt_l0, 7, t5, PTE_V|PTE_R|PTE_A)
  li x11, VA4K + 7 * 0x1000
  sfence.vma x11, x0               # address-specific fence
  ld x14, 0(x11)
  li x7, 0x3333333333333333
  bne x14, x7, fail
  # ---- a PTE made invalid is not used after sfence.vma ----
  la t0, pt_l0
  sd x0, 7 * 8(t0)
  sfence.vma
  TEST_PF(33, 13, VA4K + 7 * 0x1000, ld x14, 0(x11))
  # ---- satp: unsupported modes are ignored (spec 4.1.11); bare turns translation off ----
test_34:
  li gp, 34
  csrr x12, satp
  li t0, (11 << 60) | 0x123          # Sv64: not supported
  csrw satp, t0
  csrr x14, satp
  bne x14, x12, fail
  li t0, (5 << 60) | 0x123           # reserved
  csrw satp, t0
  csrr x14, satp
  bne x14, x12, fail
#ifndef QEMU_REFERENCE
  li t0, (10 << 60) | 0x123          # Sv57: tvisor implements Sv39/Sv48 only (QEMU 7.2 has Sv57)
  csrw satp, t0
  csrr x14, satp
  bne x14, x12, fail
#endif
  li x11, VA4K
  ld x14, 8(x11)                     # translation still on
  li x7, 0x1111111111111111
  bne x14, x7, fail
test_35:
  li gp, 35
  csrw satp, x0                      # Bare: VA = PA from now on
  sfence.vma
  la t0, page1
  ld x14, 0(t0)
  li x7, 0x3333333333333333
  bne x14, x7, fail
  csrw satp, x12
  sfence.vma
  # ---- page faults delegated to S through medeleg ----
  GOTO_M(m_deleg)
m_deleg:
  li t0, (1 << 12) | (1 << 13) | (1 << 15)
  csrw medeleg, t0
  MRET_TO(1, s_deleg)
s_deleg:
test_36:
  li gp, 36
  CLEAR_TRAP
  EXPECT_TRAP
  li x11, VA4K + 0x1abc
  la x5, 1f
1: sd x0, 0(x11)
  CHECK_WORD(strap_cause, 15)
  CHECK_WORD_REG(strap_epc, x5)
  CHECK_WORD(strap_tval, VA4K + 0x1abc)
  CHECK_WORD(trap_count, 0)
  # ---- U-mode (code on a U page): U data page accessible, an S page faults (delegated to S) ----
  GOTO_M(m_user)
m_user:
test_37:
  li gp, 37
  CLEAR_TRAP
  EXPECT_TRAP
  RESUME_AT_M(m_done)
  li x11, VA4K + 3 * 0x1000
  li x12, VA4K + 0x1000
  li x14, 0
  li t0, MSTATUS_MPP
  csrc mstatus, t0                  # MPP = U
  li t0, VA4K + 10 * 0x1000
  csrw mepc, t0
  mret
m_done:
  li x7, 0x5555
  bne x14, x7, fail                 # the U load of the U page worked
test_38:
  li gp, 38
  CHECK_WORD(strap_cause, 13)       # the U load of an S page faulted, handled in S
  CHECK_WORD(strap_epc, VA4K + 10 * 0x1000 + 4)
  CHECK_WORD(strap_tval, VA4K + 0x1000)
  CHECK_WORD(strap_spp, 0)
  csrw medeleg, x0
  csrw satp, x0

CODE_END

  .section .text
  .balign 4096
xonly_code:
  li a0, 42
  ret
  .balign 4096
u_code:                            # runs in U at VA4K + 10 * 4K
  ld x14, 0x30(x11)                # +0: U page
  ld x15, 0(x12)                   # +4: S page: load page fault, delegated to S, resumes at +8
  li a7, 0                         # +8: back to M (forwarded by the S handler)
  ecall
  .balign 4096

DATA_BEGIN
  .balign 4096
pt_root: .skip 4096
pt_l1: .skip 4096
pt_l0: .skip 4096
page0: .dword 0, 0x1111111111111111
  .balign 4096
page1: .dword 0x3333333333333333
  .balign 4096
page3: .skip 4096
page4: .skip 4096
DATA_END
