#!/usr/bin/env bash
# Regenerates the RISC-V ISA test fixtures in src/isa/riscv/fixtures/ from GNU binutils, so the unit tests need
# no toolchain at test time:
#   rvc-pairs.json      every compressed instruction form (several operand patterns, immediate extremes and each
#                       immediate bit on its own) assembled with `.option rvc`, paired with the 32-bit instruction
#                       the spec says it expands to, assembled with `.option norvc`.
#   rv64gc-objdump.json every instruction of the RV64GC table with several operand patterns, plus random words
#                       over the table's major opcodes, with objdump's text with and without aliases.
#   csr-objdump.json    the CSR names objdump prints for every CSR number it knows (priv spec 1.12).
#   rvc-objdump-illegal.json  every 16-bit halfword (low bits not 11) that objdump does not decode.
# Needs binutils-riscv64-linux-gnu (Debian). Usage: scripts/gen-rvc-fixture.sh
set -euo pipefail

AS=${AS:-riscv64-linux-gnu-as}
OBJDUMP=${OBJDUMP:-riscv64-linux-gnu-objdump}
command -v "$AS" >/dev/null || { echo "missing $AS (apt-get install binutils-riscv64-linux-gnu)" >&2; exit 1; }

top=$(cd "$(dirname "$0")/.." && pwd)
out="$top/src/isa/riscv/fixtures"
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

asm() { "$AS" -march=rv64gc -mpriv-spec=1.12 "$1" -o "$2"; }

# Prints "address<TAB>hex<TAB>text" per instruction; text has one space after the mnemonic and no
# `<symbol>` or `# comment` annotations. $2 is extra -M options.
dump() {
  "$OBJDUMP" -d -M "priv-spec=1.12${2:+,$2}" "$1" | awk -F'\t' '
    /^ *[0-9a-f]+:\t/ {
      addr = $1; sub(/^ */, "", addr); sub(/:$/, "", addr)
      hex = $2; gsub(/ /, "", hex)
      ops = $4; sub(/ *<.*$/, "", ops); sub(/ *#.*$/, "", ops)
      text = $3; if (ops != "") text = text " " ops
      print addr "\t" hex "\t" text
    }'
}

# ---------------------------------------------------------------------------------------------------------------
# 1. Compressed instructions: "compressed | expansion" per line (Unprivileged spec chapter 16, Tables 16.5-16.7).
# ---------------------------------------------------------------------------------------------------------------
pairs="$work/pairs.txt"
{
  p() { echo "$1 | $2"; }
  # Quadrant 0.
  for r in s0 a5; do
    for i in 4 8 16 32 64 128 256 512 1020 340; do p "c.addi4spn $r,sp,$i" "addi $r,sp,$i"; done
  done
  for rr in "s0 a5" "a5 s0" "a1 a2"; do
    set -- $rr
    for i in 0 8 16 32 64 128 248; do
      p "c.ld $1,$i($2)" "ld $1,$i($2)"
      p "c.sd $1,$i($2)" "sd $1,$i($2)"
    done
    for i in 0 4 8 16 32 64 124; do
      p "c.lw $1,$i($2)" "lw $1,$i($2)"
      p "c.sw $1,$i($2)" "sw $1,$i($2)"
    done
  done
  for rr in "fs0 a5" "fa5 s0" "fs1 a0"; do
    set -- $rr
    for i in 0 8 16 32 64 128 248; do
      p "c.fld $1,$i($2)" "fld $1,$i($2)"
      p "c.fsd $1,$i($2)" "fsd $1,$i($2)"
    done
  done
  # Quadrant 1.
  p "c.nop" "addi zero,zero,0"
  for r in a0 t6 ra; do
    for i in 1 2 4 8 16 -32 31 -1; do p "c.addi $r,$i" "addi $r,$r,$i"; done
    for i in 0 1 2 4 8 16 -32 31 -1; do
      p "c.addiw $r,$i" "addiw $r,$r,$i"
      p "c.li $r,$i" "addi $r,zero,$i"
    done
    for i in 1 2 4 8 16 0x1f 0xfffe0 0xfffff 0xffff0; do p "c.lui $r,$i" "lui $r,$i"; done
    for i in 1 2 4 8 16 32 63; do p "c.slli $r,$i" "slli $r,$r,$i"; done
  done
  for i in 16 32 64 128 256 -512 496 -16; do p "c.addi16sp sp,$i" "addi sp,sp,$i"; done
  for r in s0 a5; do
    for i in 1 2 4 8 16 32 63; do
      p "c.srli $r,$i" "srli $r,$r,$i"
      p "c.srai $r,$i" "srai $r,$r,$i"
    done
    for i in 0 1 2 4 8 16 -32 31 -1; do p "c.andi $r,$i" "andi $r,$r,$i"; done
  done
  for rr in "s0 a5" "a5 s0" "a0 a0"; do
    set -- $rr
    p "c.sub $1,$2" "sub $1,$1,$2"
    p "c.xor $1,$2" "xor $1,$1,$2"
    p "c.or $1,$2" "or $1,$1,$2"
    p "c.and $1,$2" "and $1,$1,$2"
    p "c.subw $1,$2" "subw $1,$1,$2"
    p "c.addw $1,$2" "addw $1,$1,$2"
  done
  for o in 2 4 8 16 32 64 128 256 512 1024 -2048 2046 -2 0; do p "c.j .+($o)" "jal zero,.+($o)"; done
  for r in s0 a5; do
    for o in 2 4 8 16 32 64 128 -256 254 -2 0; do
      p "c.beqz $r,.+($o)" "beq $r,zero,.+($o)"
      p "c.bnez $r,.+($o)" "bne $r,zero,.+($o)"
    done
  done
  # Quadrant 2.
  for r in ft0 fa0 ft11; do
    for i in 0 8 16 32 64 128 256 504; do
      p "c.fldsp $r,$i(sp)" "fld $r,$i(sp)"
      p "c.fsdsp $r,$i(sp)" "fsd $r,$i(sp)"
    done
  done
  for r in ra a0 t6; do
    for i in 0 8 16 32 64 128 256 504; do
      p "c.ldsp $r,$i(sp)" "ld $r,$i(sp)"
      p "c.sdsp $r,$i(sp)" "sd $r,$i(sp)"
    done
    for i in 0 4 8 16 32 64 128 252; do
      p "c.lwsp $r,$i(sp)" "lw $r,$i(sp)"
      p "c.swsp $r,$i(sp)" "sw $r,$i(sp)"
    done
    p "c.jr $r" "jalr zero,0($r)"
    p "c.jalr $r" "jalr ra,0($r)"
  done
  p "c.sdsp zero,8(sp)" "sd zero,8(sp)"
  p "c.swsp zero,8(sp)" "sw zero,8(sp)"
  for rr in "a0 a1" "t6 ra" "ra t6" "sp s0"; do
    set -- $rr
    p "c.mv $1,$2" "add $1,zero,$2"
    p "c.add $1,$2" "add $1,$1,$2"
  done
  p "c.ebreak" "ebreak"
  # HINTs (§16.7, Table 16.3): they expand to their base instruction.
  p "c.addi a0,0" "addi a0,a0,0"
  p "c.addi zero,5" "addi zero,zero,5"
  p "c.li zero,-32" "addi zero,zero,-32"
  p "c.lui zero,1" "lui zero,1"
  p "c.mv zero,a0" "add zero,zero,a0"
  p "c.add zero,t6" "add zero,zero,t6"
  p "c.slli zero,63" "slli zero,zero,63"
  # HINTs gas will not write by name (shift amount 0): given as raw halfwords.
  p ".insn 2, 0x0502" "slli a0,a0,0"
  p ".insn 2, 0x8001" "srli s0,s0,0"
  p ".insn 2, 0x8401" "srai s0,s0,0"
  p ".insn 2, 0x0001" "addi zero,zero,0"
} >"$pairs"

{
  echo ".option rvc"
  cut -d'|' -f1 "$pairs"
} >"$work/rvc.s"
{
  echo ".option norvc"
  cut -d'|' -f2 "$pairs"
} >"$work/norvc.s"
asm "$work/rvc.s" "$work/rvc.o"
asm "$work/norvc.s" "$work/norvc.o"
dump "$work/rvc.o" no-aliases >"$work/rvc.txt"
dump "$work/norvc.o" no-aliases >"$work/norvc.txt"
[ "$(wc -l <"$work/rvc.txt")" = "$(wc -l <"$pairs")" ] || { echo "rvc: instruction count mismatch" >&2; exit 1; }
[ "$(wc -l <"$work/norvc.txt")" = "$(wc -l <"$pairs")" ] || { echo "norvc: instruction count mismatch" >&2; exit 1; }
paste "$work/rvc.txt" "$work/norvc.txt" | awk -F'\t' '
  BEGIN { print "[" }
  {
    if (length($2) != 4) { print "not compressed: " $3 > "/dev/stderr"; exit 1 }
    if (length($5) != 8) { print "not 32-bit: " $6 > "/dev/stderr"; exit 1 }
    printf "%s  {\"c\": \"0x%s\", \"asm\": \"%s\", \"expanded\": \"0x%s\", \"expandedAsm\": \"%s\"}", (NR > 1 ? ",\n" : ""), $2, $3, $5, $6
  }
  END { print "\n]" }' >"$out/rvc-pairs.json"

# ---------------------------------------------------------------------------------------------------------------
# 2. Every RV64GC instruction of src/isa/riscv/opcodes.ts with several operand patterns (Unprivileged spec
#    chapter 24 listings), then random words over the same major opcodes.
# ---------------------------------------------------------------------------------------------------------------
ins="$work/ins.s"
{
  echo ".option norvc"
  each() { # each "mnemonics" "operand pattern" ...
    local names=$1
    shift
    for n in $names; do for o in "$@"; do echo "$n $o"; done; done
  }
  each "add sub sll slt sltu xor srl sra or and addw subw sllw srlw sraw" "a0,a1,a2" "t6,zero,s11" "zero,ra,sp" "a0,zero,a1" "a0,a1,zero"
  each "mul mulh mulhsu mulhu div divu rem remu mulw divw divuw remw remuw" "a0,a1,a2" "t6,zero,s11"
  each "addi slti sltiu xori ori andi addiw" "a0,a1,-2048" "t6,zero,2047" "s0,s1,-1" "a0,a0,0" "a0,a1,1" "zero,zero,0"
  each "lb lh lw ld lbu lhu lwu" "a0,-2048(a1)" "t6,2047(zero)" "ra,0(sp)"
  each "sb sh sw sd" "a0,-2048(a1)" "t6,2047(zero)" "ra,-1(sp)"
  each "beq bne blt bge bltu bgeu" "a0,a1,.-4096" "t6,s11,.+4094" "a0,zero,.+2" "zero,a1,.-2" "a0,a1,."
  each "lui auipc" "a0,0" "t6,0xfffff" "ra,0x80000" "a0,0x7ffff"
  each "jal" "zero,.-1048576" "ra,.+1048574" "a0,.+2" "ra,.-2"
  each "jalr" "zero,0(ra)" "ra,-2048(t6)" "a0,2047(a1)" "ra,0(a0)" "zero,0(a0)"
  each "slli srli srai" "a0,a1,0" "t6,zero,63" "a0,a1,32" "s0,s1,1"
  each "slliw srliw sraiw" "a0,a1,0" "t6,zero,31" "s0,s1,1"
  each "csrrw csrrs csrrc" "a0,mstatus,a1" "zero,sstatus,t6" "ra,0x7c0,zero" "a0,satp,zero" "zero,mie,a0"
  each "csrrwi csrrsi csrrci" "a0,mstatus,0" "zero,sstatus,31" "ra,0x7c0,1"
  each "csrrs" "a0,cycle,zero" "a0,time,zero" "a0,instret,zero" "a0,fflags,zero" "a0,frm,zero" "a0,fcsr,zero"
  each "csrrw" "a0,fflags,a1" "zero,frm,a1" "zero,fcsr,a1" "a0,fcsr,a1"
  for a in amoswap amoadd amoxor amoand amoor amomin amomax amominu amomaxu sc; do
    for w in w d; do
      each "$a.$w $a.$w.aq $a.$w.rl $a.$w.aqrl" "a0,a1,(a2)"
      each "$a.$w" "zero,t6,(sp)"
    done
  done
  each "lr.w lr.w.aq lr.w.rl lr.w.aqrl lr.d lr.d.aq lr.d.rl lr.d.aqrl" "a0,(a1)" "t6,(zero)"
  each "fence" "iorw,iorw" "rw,w" "i,o" "r,r" "rw,rw" "w,iorw"
  echo ".insn 4, 0x0000000f"
  echo ".insn 4, 0x0010000f"
  each "fence.tso fence.i ecall ebreak sret mret wfi" ""
  each "sfence.vma" "zero,zero" "a0,zero" "zero,a1" "a0,a1"
  each "flw fld" "fa0,-2048(a1)" "ft0,2047(zero)" "fs11,0(sp)"
  each "fsw fsd" "fa0,-2048(a1)" "ft0,2047(zero)" "fs11,-1(sp)"
  each "fadd.s fsub.s fmul.s fdiv.s fadd.d fsub.d fmul.d fdiv.d" "fa0,fa1,fa2" "ft0,ft1,ft11,rne" \
    "ft0,ft1,ft11,rtz" "ft0,ft1,ft11,rdn" "ft0,ft1,ft11,rup" "ft0,ft1,ft11,rmm" "fs0,fs1,fs2,dyn"
  each "fsgnj.s fsgnjn.s fsgnjx.s fmin.s fmax.s fsgnj.d fsgnjn.d fsgnjx.d fmin.d fmax.d" "fa0,fa1,fa2" "ft0,ft11,ft11"
  each "fmadd.s fmsub.s fnmsub.s fnmadd.s fmadd.d fmsub.d fnmsub.d fnmadd.d" "fa0,fa1,fa2,fa3" "ft0,ft1,ft2,ft11,rtz"
  each "fsqrt.s fsqrt.d fcvt.s.d" "fa0,fa1" "ft0,ft11,rup"
  each "fcvt.d.s" "fa0,fa1" "ft11,ft0"
  each "feq.s flt.s fle.s feq.d flt.d fle.d" "a0,fa1,fa2" "t6,ft0,ft11"
  each "fcvt.w.s fcvt.wu.s fcvt.l.s fcvt.lu.s fcvt.w.d fcvt.wu.d fcvt.l.d fcvt.lu.d" "a0,fa1" "t6,ft0,rtz"
  each "fcvt.s.w fcvt.s.wu fcvt.s.l fcvt.s.lu fcvt.d.l fcvt.d.lu" "fa0,a1" "ft11,zero,rdn"
  each "fcvt.d.w fcvt.d.wu" "fa0,a1" "ft11,zero"
  each "fmv.x.w fclass.s fmv.x.d fclass.d" "a0,fa1" "t6,ft11"
  each "fmv.w.x fmv.d.x" "fa0,a1" "ft11,zero"
  # Random words: every major opcode the table uses, all other bits random (bash's seeded generator).
  RANDOM=20240601
  opcodes=(03 07 0f 13 17 1b 23 27 2f 33 37 3b 43 47 4b 4f 53 63 67 6f 73)
  for ((i = 0; i < 3000; i++)); do
    hi=$(((RANDOM << 17) ^ (RANDOM << 4) ^ RANDOM))
    printf '.insn 4, 0x%08x\n' $(((hi & 0xffffff80) | 0x${opcodes[i % ${#opcodes[@]}]}))
  done
} >"$ins"
asm "$ins" "$work/ins.o"
dump "$work/ins.o" no-aliases >"$work/ins-noalias.txt"
dump "$work/ins.o" "" >"$work/ins-alias.txt"
[ "$(wc -l <"$work/ins-noalias.txt")" = "$(wc -l <"$work/ins-alias.txt")" ] || { echo "count mismatch" >&2; exit 1; }
paste "$work/ins-noalias.txt" "$work/ins-alias.txt" | awk -F'\t' '
  BEGIN { print "[" }
  {
    printf "%s  {\"pc\": \"0x%s\", \"insn\": \"0x%s\", \"text\": \"%s\", \"alias\": \"%s\"}", (NR > 1 ? ",\n" : ""), $1, $2, $3, $6
  }
  END { print "\n]" }' >"$out/rv64gc-objdump.json"

# ---------------------------------------------------------------------------------------------------------------
# 3. CSR names objdump knows (priv spec 1.12), by number.
# ---------------------------------------------------------------------------------------------------------------
for ((i = 0; i < 4096; i++)); do printf 'csrrs a0,0x%x,zero\n' "$i"; done >"$work/csr.s"
asm "$work/csr.s" "$work/csr.o"
dump "$work/csr.o" no-aliases | awk -F'\t' '
  BEGIN { print "{"; n = 0 }
  {
    split($3, f, /[ ,]/)
    if (f[3] ~ /^0x/) next
    printf "%s  \"%d\": \"%s\"", (n++ ? ",\n" : ""), NR - 1, f[3]
  }
  END { print "\n}" }' >"$out/csr-objdump.json"

# ---------------------------------------------------------------------------------------------------------------
# 4. All 49152 compressed halfwords: the ones objdump does not decode (it prints .2byte).
# ---------------------------------------------------------------------------------------------------------------
for ((h = 0; h < 65536; h++)); do
  if (((h & 3) != 3)); then printf '.insn 2, 0x%04x\n' "$h"; fi
done >"$work/all16.s"
asm "$work/all16.s" "$work/all16.o"
dump "$work/all16.o" no-aliases | awk -F'\t' '
  BEGIN { printf "[" }
  $3 ~ /^\.2byte/ { printf "%s\"0x%s\"", (n++ ? "," : ""), $2 }
  END { print "]" }' >"$out/rvc-objdump-illegal.json"

echo "wrote $out/rvc-pairs.json ($(grep -c '"c"' "$out/rvc-pairs.json") pairs)," \
  "rv64gc-objdump.json ($(grep -c '"insn"' "$out/rv64gc-objdump.json") words), csr-objdump.json"
