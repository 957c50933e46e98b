# Bare-metal RV64GC program that executes a table of FP test vectors and prints each result over HTIF.
# Each vector (32 bytes): u32 insn, u32 frm, u64 a, u64 b, u64 c. The instruction word is copied into `slot`
# and executed with f1=a, x11=a, f2=b, f3=c, x10=0, f10=0, fflags=0 and the given frm; an illegal
# instruction trap is caught and reported. Output per vector: "<x10 hex16> <f10 hex16> <fflags hex2> <trap>\n".

  .section .text.init
  .globl _start
_start:
  la sp, stack_top
  la t0, trap
  csrw mtvec, t0
  li t0, 0x6000          # mstatus.FS = Dirty: enable the FPU (privileged spec 3.1.6.6)
  csrs mstatus, t0
  la s2, vectors
  la s3, vectors_end
1:
  bgeu s2, s3, done
  mv a0, s2
  call run_vec
  addi s2, s2, 32
  j 1b
done:
  li t0, 1
  la t1, tohost
  sd t0, 0(t1)
2:
  j 2b

# a0 = vector pointer. Prints the result line.
run_vec:
  addi sp, sp, -32
  sd ra, 0(sp)
  sd s0, 8(sp)
  sd s1, 16(sp)
  mv s0, a0
  lwu t0, 0(s0)
  la t1, slot
  sw t0, 0(t1)
  fence.i
  lwu t0, 4(s0)
  csrw frm, t0
  csrw fflags, zero
  la t0, trapflag
  sd zero, 0(t0)
  ld t2, 8(s0)
  fmv.d.x f1, t2
  mv a1, t2
  ld t2, 16(s0)
  fmv.d.x f2, t2
  ld t2, 24(s0)
  fmv.d.x f3, t2
  li a0, 0
  fmv.d.x f10, zero
  call slot
  csrr s1, fflags
  fmv.x.d t2, f10
  mv s0, t2
  # print x10 (a0)
  call puthex64
  li a0, ' '
  call putch
  mv a0, s0
  call puthex64
  li a0, ' '
  call putch
  srli a0, s1, 4
  call puthexdigit
  andi a0, s1, 15
  call puthexdigit
  li a0, ' '
  call putch
  la t0, trapflag
  ld a0, 0(t0)
  call puthexdigit
  li a0, '\n'
  call putch
  ld ra, 0(sp)
  ld s0, 8(sp)
  ld s1, 16(sp)
  addi sp, sp, 32
  ret

# a0 = value; clobbers t3-t5, a0, a2
puthex64:
  addi sp, sp, -16
  sd ra, 0(sp)
  sd s4, 8(sp)
  mv s4, a0
  li t5, 60
3:
  srl a0, s4, t5
  andi a0, a0, 15
  addi sp, sp, -16
  sd t5, 0(sp)
  call puthexdigit
  ld t5, 0(sp)
  addi sp, sp, 16
  addi t5, t5, -4
  bgez t5, 3b
  ld ra, 0(sp)
  ld s4, 8(sp)
  addi sp, sp, 16
  ret

puthexdigit:
  li t3, 10
  blt a0, t3, 4f
  addi a0, a0, 'a' - 10 - '0'
4:
  addi a0, a0, '0'
  # fall through
# a0 = char: HTIF console putchar (device 1, command 1), then wait for the host's acknowledgement.
putch:
  li t3, 0x0101000000000000
  or t3, t3, a0
  la t4, tohost
  sd t3, 0(t4)
  la t4, fromhost
5:
  ld t3, 0(t4)
  beqz t3, 5b
  sd zero, 0(t4)
  ret

  .align 3
trap:
  csrw mscratch, t0
  la t0, trapsave
  sd t1, 0(t0)
  csrr t1, mcause
  sd t1, 8(t0)
  csrr t1, mepc
  addi t1, t1, 4
  csrw mepc, t1
  ld t1, 0(t0)
  csrr t0, mscratch
  mret

  .align 2
slot:
  .word 0
  ret

  .data
  .align 3
trapsave:
  .dword 0
trapflag:
  .dword 0
  .align 4
vectors:
  .incbin "vectors.bin"
vectors_end:

  .section .tohost, "aw", @progbits
  .align 6
  .globl tohost
tohost:
  .dword 0
  .size tohost, 8
  .align 6
  .globl fromhost
fromhost:
  .dword 0
  .size fromhost, 8

  .bss
  .align 4
  .space 16384
stack_top:
