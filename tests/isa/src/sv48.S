# Sv48 paging: a four-level walk to a 4 KiB page, 1 GiB and 512 GiB pages, A/D updates, non-canonical
# addresses (bits 63:48 must equal bit 47), and a misaligned 1 GiB superpage.
#include "test.h"
#include "vm.h"
#define VA4K   0x40000000          /* root[0] -> l2[1] -> l1[0] -> l0[0] */
#define VA512G 0x0000008000000000  /* root[1]: 512 GiB page at PA 0 (RAM appears at +0x80000000) */
#define VAHIGH 0xffff800080000000  /* root[256] -> l2[2]: 1 GiB page, a negative canonical address */
CODE_BEGIN
  SET_PTE_SYM(pt_root, 0, pt_l2, PTE_V)
  SET_PTE_ABS(pt_l2, 2, 0x80000000, PTE_V|PTE_R|PTE_W|PTE_X|PTE_A|PTE_D)    # identity 1 GiB
  SET_PTE_ABS(pt_l2, 3, 0x80001000, PTE_V|PTE_R|PTE_W|PTE_A|PTE_D)         # misaligned 1 GiB page
  SET_PTE_SYM(pt_l2, 1, pt_l1, PTE_V)
  SET_PTE_SYM(pt_l1, 0, pt_l0, PTE_V)
  SET_PTE_SYM(pt_l0, 0, page0, PTE_V|PTE_R|PTE_W)                          # A = D = 0
  SET_PTE_ABS(pt_root, 1, 0, PTE_V|PTE_R|PTE_W|PTE_A|PTE_D)                # 512 GiB page
  SET_PTE_SYM(pt_root, 256, pt_l2hi, PTE_V)
  SET_PTE_ABS(pt_l2hi, 2, 0x80000000, PTE_V|PTE_R|PTE_W|PTE_A|PTE_D)
  la t0, pt_root
  srli t0, t0, 12
  li t1, SATP_SV48
  or t0, t0, t1
  csrw satp, t0
  sfence.vma
  csrr t1, satp
  bne t0, t1, fail
  MRET_TO(1, s_main)
s_main:
test_1:
  li gp, 1
  li x11, VA4K
  ld x14, 8(x11)
  li x7, 0x1111111111111111
  bne x14, x7, fail
  sd x7, 16(x11)
  la t0, pt_l0
  ld t1, 0(t0)
  andi t2, t1, PTE_A
  beqz t2, fail
  andi t2, t1, PTE_D
  beqz t2, fail
test_2:                            # 512 GiB page: VA512G + PA
  li gp, 2
  la t0, page0
  li t1, VA512G
  add t0, t0, t1
  ld x14, 8(t0)
  li x7, 0x1111111111111111
  bne x14, x7, fail
test_3:                            # upper-half canonical address through root[256]
  li gp, 3
  la t0, page0
  li t1, 0x80000000
  sub t0, t0, t1
  li t1, VAHIGH
  add t0, t0, t1
  ld x14, 8(t0)
  li x7, 0x1111111111111111
  bne x14, x7, fail
  TEST_PF(4, 13, 0x0001000000000000, ld x14, 0(x11))   # bit 48 set, bit 47 clear: non-canonical
  TEST_PF(5, 15, 0xfff0800080000000, sd x0, 0(x11))    # bits 63:48 not all equal
  TEST_PF(6, 13, 0x00000000c0000010, ld x14, 0(x11))   # misaligned 1 GiB superpage
  TEST_PF(7, 13, 0x0000010000000000, ld x14, 0(x11))   # root[2] empty
  TEST_FETCH_PF(8, VA512G + 0x80000000)                # 512 GiB page is not executable
  GOTO_M(m_done)
m_done:
  csrw satp, x0
CODE_END
DATA_BEGIN
  .balign 4096
pt_root: .skip 4096
pt_l2: .skip 4096
pt_l2hi: .skip 4096
pt_l1: .skip 4096
pt_l0: .skip 4096
page0: .dword 0, 0x1111111111111111
  .balign 4096
DATA_END
