/* Page-table helpers for the paging programs (privileged spec 4.3-4.5: Sv39/Sv48 PTE layout). */
#ifndef TVISOR_VM_H
#define TVISOR_VM_H
#define PTE_V 0x01
#define PTE_R 0x02
#define PTE_W 0x04
#define PTE_X 0x08
#define PTE_U 0x10
#define PTE_G 0x20
#define PTE_A 0x40
#define PTE_D 0x80
#define SATP_SV39 (8 << 60)
#define SATP_SV48 (9 << 60)

/* table[idx] = PTE for physical address in `pareg` (clobbers pareg, t6) with `flags`. */
#define SET_PTE(table, idx, pareg, flags) \
  srli pareg, pareg, 12;                  \
  slli pareg, pareg, 10;                  \
  ori pareg, pareg, flags;                \
  la t6, table + (idx) * 8;               \
  sd pareg, 0(t6)
/* Same with the physical address given as a symbol or constant. */
#define SET_PTE_SYM(table, idx, pa, flags) la t5, pa; SET_PTE(table, idx, t5, flags)
#define SET_PTE_ABS(table, idx, pa, flags) li t5, pa; SET_PTE(table, idx, t5, flags)

/* Case n (S-mode): `insn` (which uses x11 = va) must raise page fault `cause` with tval = va. */
#define TEST_PF(n, cause, va, insn...)  \
test_##n:                               \
  li gp, n;                             \
  CLEAR_TRAP;                           \
  EXPECT_TRAP;                          \
  li x11, va;                           \
  la x5, 1f;                            \
1: insn;                                \
  CHECK_WORD(trap_cause, cause);        \
  CHECK_WORD_REG(trap_epc, x5);         \
  CHECK_WORD(trap_tval, va)

/* Case n (S-mode): jumping to va must raise an instruction page fault with epc = tval = va. */
#define TEST_FETCH_PF(n, va)            \
test_##n:                               \
  li gp, n;                             \
  CLEAR_TRAP;                           \
  EXPECT_TRAP;                          \
  RESUME_AT(2f);                        \
  li x11, va;                           \
  jalr ra, 0(x11);                      \
  j fail;                               \
2: CHECK_WORD(trap_cause, 12);          \
  CHECK_WORD(trap_epc, va);             \
  CHECK_WORD(trap_tval, va)
#endif
