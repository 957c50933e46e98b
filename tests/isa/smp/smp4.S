/*
 * SMP bare program for `tvisor run --bios none --cpus 4` (Spike's -p4): all four harts start at _start
 * in M-mode with a0 = mhartid. Checks that AMOs and LR/SC stay atomic across harts that run interleaved,
 * and that a CLINT software interrupt (MSIP) wakes a hart parked in WFI. Exit status = failing check.
 */
  .option norvc
  .section .text.init
  .globl _start
_start:
  csrr s0, mhartid
  li s1, 4                      /* harts expected */
  la t0, arrived
  amoadd.w zero, s1, (t0)       /* count arrivals in units of 4 to make a stray value obvious */
  /* 1000 AMO increments and 1000 LR/SC increments per hart. */
  li s2, 1000
  la s3, amo_counter
  la s4, lrsc_counter
1:
  li t1, 1
  amoadd.d zero, t1, (s3)
2:
  lr.d t2, (s4)
  addi t2, t2, 1
  sc.d t3, t2, (s4)
  bnez t3, 2b
  addi s2, s2, -1
  bnez s2, 1b
  la t0, done
  li t1, 1
  amoadd.w zero, t1, (t0)
  bnez s0, secondary

  /* Hart 0: wait for every hart to finish, check the counters, then wake the others through MSIP. */
  li t5, 5000000
3:
  addi t5, t5, -1
  li a0, 2                      /* check 1: the other harts never finished */
  beqz t5, fail
  lw t1, done
  bne t1, s1, 3b
  li a0, 3                      /* check 2: arrivals */
  lw t1, arrived
  li t2, 16
  bne t1, t2, fail
  li a0, 4                      /* check 3: AMO counter */
  ld t1, amo_counter
  li t2, 4000
  bne t1, t2, fail
  li a0, 5                      /* check 4: LR/SC counter */
  ld t1, lrsc_counter
  bne t1, t2, fail
  li t0, 0x02000000             /* CLINT MSIP, 4 bytes per hart */
  li t1, 1
  sw t1, 4(t0)
  sw t1, 8(t0)
  sw t1, 12(t0)
  li t5, 5000000
4:
  addi t5, t5, -1
  li a0, 6                      /* check 5: the woken harts did not acknowledge */
  beqz t5, fail
  lw t1, acks
  li t2, 3
  bne t1, t2, 4b
  li a0, 0
  j exit

secondary:
  /* Park in WFI with only MSIE enabled (MIE off: WFI still wakes on a pending enabled interrupt). */
  li t0, 8
  csrw mie, t0
5:
  wfi
  csrr t1, mip
  andi t1, t1, 8
  beqz t1, 5b
  li t0, 0x02000000
  slli t1, s0, 2
  add t0, t0, t1
  sw zero, 0(t0)                /* clear our MSIP */
  la t0, acks
  li t1, 1
  amoadd.w zero, t1, (t0)
6:
  wfi
  j 6b

fail:
  slli a0, a0, 1
  ori a0, a0, 1
exit:
  bnez a0, 7f
  li a0, 1                      /* HTIF exit(0) is tohost = 1 */
7:
  la t0, tohost
  sd a0, 0(t0)
8:
  j 8b

  .data
  .align 3
arrived: .word 0
done: .word 0
acks: .word 0
  .align 3
amo_counter: .dword 0
lrsc_counter: .dword 0

  .section .tohost, "aw", @progbits
  .align 6
  .globl tohost
tohost: .dword 0
  .size tohost, 8
  .align 6
  .globl fromhost
fromhost: .dword 0
  .size fromhost, 8
