# Interrupts: software interrupts through mip.SSIP/STIP set by M-mode, delegation to S, global enables
# per privilege, WFI wake-up, priorities, vectored mtvec, the CLINT (MSIP, MTIMECMP) and Sstc stimecmp.
#include "test.h"
#define CLINT_MSIP      0x2000000
#define CLINT_MTIMECMP  0x2004000
#define CLINT_MTIME     0x200bff8
#define INT(c) (0x8000000000000000 | (c))
CODE_BEGIN

  # ---- SSIP raised by M-mode software, taken in M after the enabling instruction ----
test_1:
  li gp, 1
  CLEAR_TRAP
  csrsi mip, 2                     # SSIP pending
  li t0, 2
  csrw mie, t0                     # SSIE
  csrsi mstatus, MSTATUS_MIE       # globally enabled: taken right after this instruction
1: CHECK_WORD(trap_cause, INT(1))
  la x7, 1b
  CHECK_WORD_REG(trap_epc, x7)
  CHECK_WORD(trap_count, 1)
  csrci mstatus, MSTATUS_MIE
  csrci mip, 2
  # ---- pending and enabled in mie but MIE = 0 in M-mode: not taken; WFI still wakes up ----
test_2:
  li gp, 2
  CLEAR_TRAP
  csrsi mip, 2
  li t0, 2
  csrw mie, t0
  wfi
  nop
  CHECK_WORD(trap_count, 0)
  csrci mip, 2
  csrw mie, x0
  # ---- M-level interrupts are always enabled in S regardless of mstatus.MIE ----
test_3:
  li gp, 3
  CLEAR_TRAP
  csrci mstatus, MSTATUS_MIE
  li t0, MSTATUS_MPIE
  csrc mstatus, t0                  # so mret leaves MIE = 0
  li t0, 2
  csrw mie, t0
  csrsi mip, 2                      # pending + enabled, but M-mode has MIE = 0: not taken here
  nop
  CHECK_WORD(trap_count, 0)
  MRET_TO(1, 4f)                    # in S with mstatus.MIE = 0: the M-level SSI is taken at once
4: nop
  CHECK_WORD(trap_cause, INT(1))
  CHECK_WORD(trap_mpp, 1)
  la x7, 4b
  CHECK_WORD_REG(trap_epc, x7)
  GOTO_M(5f)
5: csrci mip, 2
  # ---- delegated SSI goes to S when sstatus.SIE = 1 (and not while SIE = 0 in S) ----
test_4:
  li gp, 4
  CLEAR_TRAP
  li t0, 2
  csrw mideleg, t0
  csrw mie, t0
  csrsi mip, 2
  MRET_TO(1, 1f)
1: nop                              # SIE = 0: nothing taken in S
  CHECK_WORD(strap_count, 0)
  CHECK_WORD(trap_count, 0)
  csrsi sstatus, MSTATUS_SIE
2: CHECK_WORD(strap_cause, INT(1))
  CHECK_WORD(strap_spp, 1)
  la x7, 2b
  CHECK_WORD_REG(strap_epc, x7)
  CHECK_WORD(trap_count, 0)
  csrci sip, 2
  csrci sstatus, MSTATUS_SIE
  GOTO_M(3f)
3: csrw mideleg, x0
  # ---- a delegated interrupt is taken from U-mode even with SIE = 0 (lower privilege) ----
test_5:
  li gp, 5
  CLEAR_TRAP
  li t0, 2
  csrw mideleg, t0
  csrw mie, t0
  MRET_TO(0, 1f)
1: nop
  CHECK_WORD(strap_count, 0)
  EXPECT_TRAP                       # (not consumed: interrupts never check it)
  la t1, trap_expect; sd zero, 0(t1)
  GOTO_M(2f)
2: csrsi mip, 2
  MRET_TO(0, 3f)
3: nop
  CHECK_WORD(strap_cause, INT(1))
  CHECK_WORD(strap_spp, 0)
  GOTO_M(4f)
4: csrci mip, 2
  csrw mideleg, x0
  csrw mie, x0
  # ---- STIP written by M-mode (no Sstc): supervisor timer interrupt, cause 5 ----
test_6:
  li gp, 6
  CLEAR_TRAP
  li t0, 1 << 5
  csrs mip, t0
  csrw mie, t0
  csrsi mstatus, MSTATUS_MIE
  nop
  CHECK_WORD(trap_cause, INT(5))
  csrci mstatus, MSTATUS_MIE
  li t0, 1 << 5
  csrc mip, t0
  # ---- priority: MSI (via CLINT) > SSI when both are pending (priv spec 3.1.9) ----
test_7:
  li gp, 7
  CLEAR_TRAP
  li t1, CLINT_MSIP
  li t0, 1
  sw t0, 0(t1)
  csrsi mip, 2
  li t0, (1 << 3) | (1 << 1)
  csrw mie, t0
  csrsi mstatus, MSTATUS_MIE
  nop
#ifndef QEMU_REFERENCE
  /* QEMU 7.2 takes the SSI first here, against the order of priv spec 3.1.9. */
  CHECK_WORD(trap_cause, INT(3))
  CHECK_WORD(trap_count, 1)
#endif
  csrci mstatus, MSTATUS_MIE
  li t1, CLINT_MSIP
  sw zero, 0(t1)
  lw t0, 0(t1)
  bnez t0, fail
  # the SSI is still pending and is taken next
  li t0, 2
  csrw mie, t0
  csrsi mstatus, MSTATUS_MIE
  nop
#ifndef QEMU_REFERENCE
  CHECK_WORD(trap_cause, INT(1))
#endif
  CHECK_WORD(trap_count, 2)
  csrci mstatus, MSTATUS_MIE
  csrci mip, 2
  # ---- CLINT timer: MTIP when mtime >= mtimecmp; WFI waits for it ----
test_8:
  li gp, 8
  CLEAR_TRAP
  li t1, CLINT_MTIME
  ld t0, 0(t1)
  addi t0, t0, 500
  li t1, CLINT_MTIMECMP
  sd t0, 0(t1)
  li t0, 1 << 7
  csrw mie, t0
  # Wait with mstatus.MIE = 0: WFI wakes on a pending bit enabled in mie whatever the global enable
  # (priv spec 3.3.3), so the timer cannot fire between the check and the WFI and be taken there (the
  # handler clears mie, and a WFI after it would sleep for good). That race depends on how fast time
  # passes, so waiting this way keeps the outcome the same under the virtual and the host clock.
  li x5, 1000
1: csrr t1, mip
  andi t1, t1, 1 << 7
  bnez t1, 2f
  wfi
  addi x5, x5, -1
  bnez x5, 1b
  j fail
2: CHECK_WORD(trap_count, 0)
  csrsi mstatus, MSTATUS_MIE        # now taken
  nop
  CHECK_WORD(trap_count, 1)
  CHECK_WORD(trap_cause, INT(7))
  csrci mstatus, MSTATUS_MIE
  li t1, CLINT_MTIME
  ld t0, 0(t1)
  li t1, CLINT_MTIMECMP
  ld t2, 0(t1)
  bltu t0, t2, fail                 # it fired no earlier than the deadline
  li t0, -1
  sd t0, 0(t1)
  csrr t0, mip
  andi t0, t0, 1 << 7
  bnez t0, fail                     # MTIP drops with the new deadline
  # ---- vectored mtvec: interrupts jump to base + 4 * cause, exceptions to base ----
test_9:
  li gp, 9
  CLEAR_TRAP
  la t0, vec_table
  ori t0, t0, 1
  csrw mtvec, t0
  la t1, vec_hit
  sd zero, 0(t1)
  csrsi mip, 2
  li t0, 2
  csrw mie, t0
  csrsi mstatus, MSTATUS_MIE
  nop
  csrci mstatus, MSTATUS_MIE
  la t1, vec_hit
  ld t0, 0(t1)
  li t2, 1
  bne t0, t2, fail                  # slot 1 (SSI) ran
  CHECK_WORD(trap_cause, INT(1))
  li t0, 1 << 5
  csrw mie, t0
  csrs mip, t0
  csrsi mstatus, MSTATUS_MIE
  nop
  csrci mstatus, MSTATUS_MIE
  li t0, 1 << 5
  csrc mip, t0
  la t1, vec_hit
  ld t0, 0(t1)
  li t2, 5
  bne t0, t2, fail                  # slot 5 (STI) ran
  EXPECT_TRAP
  ecall                             # exceptions use the base (slot 0)
  la t1, vec_hit
  ld t0, 0(t1)
  bnez t0, fail
  CHECK_WORD(trap_cause, 11)
  la t0, mtrap_entry
  csrw mtvec, t0
  csrci mip, 2

#ifndef QEMU_REFERENCE
  /* QEMU's spike machine has no time CSR, which its Sstc implementation needs; tvisor must pass this. */
  # ---- Sstc: stimecmp raises STIP when time >= stimecmp (menvcfg.STCE = 1), delegated to S ----
test_10:
  li gp, 10
  CLEAR_TRAP
  li t0, 1
  slli t0, t0, 63
  csrs 0x30a, t0                    # menvcfg.STCE
  csrwi mcounteren, 2               # TM: S may read time
  li t0, 1 << 5
  csrw mideleg, t0
  csrw mie, t0
  li t0, -1
  csrw 0x14d, t0                    # stimecmp far away
  csrr t0, mip
  andi t0, t0, 1 << 5
  bnez t0, fail
  MRET_TO(1, 1f)
1: rdtime t0
  addi t0, t0, 300
  csrw 0x14d, t0
  # As in test 8: wait with sstatus.SIE = 0 (WFI still wakes on sip & sie), then enable.
  li x5, 1000
2: csrr t1, sip
  andi t1, t1, 1 << 5
  bnez t1, 3f
  wfi
  addi x5, x5, -1
  bnez x5, 2b
  j fail
3: CHECK_WORD(strap_count, 0)
  csrsi sstatus, MSTATUS_SIE        # now taken
  nop
  CHECK_WORD(strap_count, 1)
  CHECK_WORD(strap_cause, INT(5))
  csrci sstatus, MSTATUS_SIE
  rdtime t0
  csrr t1, 0x14d
  bltu t0, t1, fail
  li t0, -1
  csrw 0x14d, t0                    # a later stimecmp clears STIP
  csrr t0, sip
  andi t0, t0, 1 << 5
  bnez t0, fail
  GOTO_M(4f)
4: csrw mideleg, x0
  csrw mie, x0
  li t0, 1
  slli t0, t0, 63
  csrc 0x30a, t0
  csrw mcounteren, x0
#endif

CODE_END

  .section .text
  .align 8
vec_table:                           # slot i at vec_table + 4*i
  j vec_0
  j vec_1
  j fail
  j fail
  j fail
  j vec_5
  j fail
  j fail
vec_0:
  csrw mscratch, t0
  la t0, vec_hit
  sd zero, 0(t0)
  csrr t0, mscratch
  j mtrap_entry
vec_1:
  csrw mscratch, t0
  li t0, 1
  j vec_rec
vec_5:
  csrw mscratch, t0
  li t0, 5
vec_rec:
  csrw sscratch, t1
  la t1, vec_hit
  sd t0, 0(t1)
  csrr t1, sscratch
  csrr t0, mscratch
  j mtrap_entry

DATA_BEGIN
vec_hit: .dword 0
DATA_END
