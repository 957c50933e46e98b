/**
 * Lowering of a region (several guest basic blocks of one page) to one WebAssembly function, v86-style: a
 * `loop` around a `br_table` dispatcher over the region's blocks, so branches between them stay in wasm.
 * Guest registers live in wasm i64 locals for the whole call (loaded on entry, written back on every exit),
 * loads and stores probe the hart's software TLB inline, and slow paths are imported helpers.
 *
 * Function signature: (budget i32, loadTlb i32) -> i32 instructions retired. The exit PC is stored as an
 * f64 at the hart's PC slot; NaN there means a helper raised a trap and already set `hart.pc`.
 */
import { TLB_BYTES, TLB_OFF, TLB_TAG_HI } from "../cpu/tlb.js";
import { RAM_OFFSET } from "../memory/guest-ram.js";
import { type GuestInsn, viaInterpreter } from "./decode.js";
import { type FunctionBody, I32, I64, Op } from "./wasm/emitter.js";

/** Offsets in the hart block (after x at 0..255): the helpers' 64-bit result, the exit PC. */
export const SCRATCH_OFF = 256;
export const PC_SLOT_OFF = 264;

/** Imported helper function indices, in import order (see jit.ts). */
export const H_LOAD = 0;
export const H_STORE = 1;
export const H_MULH = 2;
export const H_AMO = 3;
export const H_INTERP = 4;

export interface RegionBlock {
  start: number;
  insns: GuestInsn[];
}

export interface Region {
  entry: number;
  vpage: number;
  blocks: RegionBlock[];
}

/** Emit the body of one region function. `hartBlock` is the byte offset of the hart's block in memory. */
export function emitRegion(f: FunctionBody, region: Region, hartBlock: number): void {
  const P_BUDGET = 0;
  const P_TLB = 1;
  const count = f.local(I32);
  const idx = f.local(I32);
  const lo = f.local(I32);
  const ent = f.local(I32);
  const t32 = f.local(I32);
  const addr = f.local(I64);
  const ta = f.local(I64);
  const tb = f.local(I64);
  // Registers used anywhere in the region get a local; x0 never does.
  const used = new Set<number>();
  const written = new Set<number>();
  for (const b of region.blocks) {
    for (const { insn } of b.insns) {
      const op = insn & 0x7f;
      const rd = (insn >>> 7) & 31;
      const rs1 = (insn >>> 15) & 31;
      const rs2 = (insn >>> 20) & 31;
      const hasRd = op !== 0x23 && op !== 0x63 && op !== 0x0f;
      const hasRs1 = op !== 0x37 && op !== 0x17 && op !== 0x6f && op !== 0x0f;
      const hasRs2 = op === 0x23 || op === 0x63 || op === 0x33 || op === 0x3b || op === 0x2f;
      if (hasRd && rd !== 0) {
        used.add(rd);
        written.add(rd);
      }
      if (hasRs1 && rs1 !== 0) used.add(rs1);
      if (hasRs2 && rs2 !== 0) used.add(rs2);
    }
  }
  const reg = new Map<number, number>();
  for (const r of [...used].sort((a, b) => a - b)) reg.set(r, f.local(I64));
  const xAddr = (r: number) => hartBlock + 8 * r;

  // Prologue: registers into locals; start at block 0.
  for (const [r, l] of reg) {
    f.i32(0);
    f.mem(Op.i64Load, 3, xAddr(r));
    f.set(l);
  }

  const blockIndex = new Map<number, number>();
  for (let i = 0; i < region.blocks.length; i++) blockIndex.set(region.blocks[i].start, i);
  const K = region.blocks.length;

  f.open(Op.block); // $exit
  f.open(Op.loop); // $L
  for (let i = K - 1; i >= 0; i--) f.open(Op.block);
  f.get(idx);
  f.brTable(
    region.blocks.map((_, i) => i),
    K - 1,
  );

  for (let j = 0; j < K; j++) {
    f.end();
    const b = region.blocks[j];
    // Depths from the block's code to the loop and the exit: the still-open blocks j+1..K-1 lie between.
    const toLoop = (extra: number) => K - 1 - j + extra;
    const toExit = (extra: number) => K - j + extra;
    const readReg = (r: number) => {
      if (r === 0) f.i64(0);
      else f.get(reg.get(r) as number);
    };
    const writeReg = (r: number) => {
      // Expects the value on the stack.
      if (r === 0) f.op(Op.drop);
      else f.set(reg.get(r) as number);
    };
    const setPc = (pc: number) => {
      f.i32(0);
      f.f64c(pc);
      f.mem(Op.f64Store, 3, hartBlock + PC_SLOT_OFF);
    };
    const addCount = (k: number) => {
      if (k === 0) return;
      f.get(count);
      f.i32(k);
      f.op(Op.i32Add);
      f.set(count);
    };
    /** Leave the function at static PC `pc` (inside `extra` open constructs). */
    const exitTo = (pc: number, extra: number) => {
      setPc(pc);
      f.br(toExit(extra));
    };
    /** Continue at static PC `pc`: in the region, via the dispatcher; otherwise leave. */
    const goTo = (pc: number, extra: number) => {
      const k = blockIndex.get(pc);
      if (k === undefined) {
        exitTo(pc, extra);
        return;
      }
      f.i32(k);
      f.set(idx);
      f.br(toLoop(extra));
    };
    /** After a helper raised a trap at instruction k of this block. */
    const trapExit = (k: number, extra: number) => {
      addCount(k);
      setPc(Number.NaN);
      f.br(toExit(extra));
    };

    // Budget: the whole block must fit, or the dispatcher gets control back before it (instret-exact).
    f.get(count);
    f.i32(b.insns.length);
    f.op(Op.i32Add);
    f.get(P_BUDGET);
    f.op(Op.i32GtS);
    f.open(Op.if);
    exitTo(b.start, 1);
    f.end();

    const n = b.insns.length;
    for (let k = 0; k < n; k++) {
      const { pc, insn, ilen } = b.insns[k];
      const op = insn & 0x7f;
      const rd = (insn >>> 7) & 31;
      const rs1 = (insn >>> 15) & 31;
      const rs2 = (insn >>> 20) & 31;
      const f3 = (insn >>> 12) & 7;
      const f7 = insn >>> 25;
      const immI = insn >> 20;
      const last = k === n - 1;
      if (viaInterpreter(insn)) {
        emitViaInterpreter(k, pc, pc + ilen);
        if (last) {
          addCount(n);
          goTo(pc + ilen, 0);
        }
        continue;
      }
      switch (op) {
        case 0x13: {
          readReg(rs1);
          if (f3 === 1 || f3 === 5) {
            f.i64(immI & 63);
            f.op(f3 === 1 ? Op.i64Shl : insn >>> 26 === 0x10 ? Op.i64ShrS : Op.i64ShrU);
          } else {
            f.i64(immI);
            if (f3 === 2 || f3 === 3) {
              f.op(f3 === 2 ? Op.i64LtS : Op.i64LtU);
              f.op(Op.i64ExtendI32U);
            } else {
              f.op([Op.i64Add, 0, 0, 0, Op.i64Xor, 0, Op.i64Or, Op.i64And][f3]);
            }
          }
          writeReg(rd);
          break;
        }
        case 0x1b: {
          readReg(rs1);
          f.op(Op.i32WrapI64);
          if (f3 === 0) {
            f.i32(immI);
            f.op(Op.i32Add);
          } else {
            f.i32((insn >>> 20) & 31);
            f.op(f3 === 1 ? Op.i32Shl : f7 === 0x20 ? Op.i32ShrS : Op.i32ShrU);
          }
          f.op(Op.i64ExtendI32S);
          writeReg(rd);
          break;
        }
        case 0x37:
          f.i64(insn & 0xfffff000);
          writeReg(rd);
          break;
        case 0x17:
          f.i64(pc + (insn & 0xfffff000));
          writeReg(rd);
          break;
        case 0x33:
          emitOp(f3, f7, false);
          break;
        case 0x3b:
          emitOp(f3, f7, true);
          break;
        case 0x0f:
          break;
        case 0x2f:
          emitAtomic(k, pc, pc + ilen);
          break;
        case 0x03:
          emitLoad(k, f3, pc);
          break;
        case 0x23:
          emitStore(k, f3, pc, pc + ilen);
          break;
        case 0x6f: {
          const imm =
            ((insn >> 31) << 20) |
            (insn & 0xff000) |
            (((insn >>> 20) & 1) << 11) |
            (((insn >>> 21) & 0x3ff) << 1);
          f.i64(pc + ilen);
          writeReg(rd);
          addCount(n);
          goTo(pc + imm, 0);
          break;
        }
        case 0x67: {
          readReg(rs1);
          f.i64(immI);
          f.op(Op.i64Add);
          f.i64(-2);
          f.op(Op.i64And);
          f.set(addr);
          f.i64(pc + ilen);
          writeReg(rd);
          addCount(n);
          f.i32(0);
          f.get(addr);
          f.op(Op.f64ConvertI64S);
          f.mem(Op.f64Store, 3, hartBlock + PC_SLOT_OFF);
          f.br(toExit(0));
          break;
        }
        case 0x63: {
          const imm =
            ((insn >> 31) << 12) |
            (((insn >>> 7) & 1) << 11) |
            (((insn >>> 25) & 0x3f) << 5) |
            (((insn >>> 8) & 0xf) << 1);
          readReg(rs1);
          readReg(rs2);
          f.op([Op.i64Eq, Op.i64Ne, 0, 0, Op.i64LtS, Op.i64GeS, Op.i64LtU, Op.i64GeU][f3]);
          addCount(n);
          f.open(Op.if);
          goTo(pc + imm, 1);
          f.op(Op.else);
          goTo(pc + ilen, 1);
          f.end();
          f.op(Op.unreachable);
          break;
        }
        default:
          throw new Error(`untranslatable instruction ${insn.toString(16)} in a region`);
      }
      if (last && op !== 0x6f && op !== 0x67 && op !== 0x63) {
        // The block ended without a control transfer (page end, block limit, untranslatable next).
        addCount(n);
        goTo(pc + ilen, 0);
      }

      function emitOp(f3: number, f7: number, w: boolean): void {
        if (f7 === 1 && f3 >= 4) {
          emitDiv(f3, w);
          return;
        }
        if (f7 === 1 && f3 !== 0) {
          // MULH, MULHSU, MULHU: 128-bit products in the shared helper (cpu/alu64.ts).
          f.i32(f3);
          for (const r of [rs1, rs2]) {
            readReg(r);
            f.op(Op.i32WrapI64);
            readReg(r);
            f.i64(32);
            f.op(Op.i64ShrU);
            f.op(Op.i32WrapI64);
          }
          f.call(H_MULH);
          f.i32(0);
          f.mem(Op.i64Load, 3, hartBlock + SCRATCH_OFF);
          writeReg(rd);
          return;
        }
        if (w) {
          readReg(rs1);
          f.op(Op.i32WrapI64);
          readReg(rs2);
          f.op(Op.i32WrapI64);
          if (f7 === 1) f.op(Op.i32Mul);
          else if (f3 === 0) f.op(f7 === 0x20 ? Op.i32Sub : Op.i32Add);
          else if (f3 === 1) f.op(Op.i32Shl);
          else f.op(f7 === 0x20 ? Op.i32ShrS : Op.i32ShrU);
          f.op(Op.i64ExtendI32S);
          writeReg(rd);
          return;
        }
        readReg(rs1);
        readReg(rs2);
        if (f7 === 1) f.op(Op.i64Mul);
        else if (f7 === 0x20) f.op(f3 === 0 ? Op.i64Sub : Op.i64ShrS);
        else if (f3 === 2 || f3 === 3) {
          f.op(f3 === 2 ? Op.i64LtS : Op.i64LtU);
          f.op(Op.i64ExtendI32U);
        } else f.op([Op.i64Add, Op.i64Shl, 0, 0, Op.i64Xor, Op.i64ShrU, Op.i64Or, Op.i64And][f3]);
        writeReg(rd);
      }

      /** DIV/DIVU/REM/REMU(W) with the spec's results for division by zero and overflow (table 7.1). */
      function emitDiv(f3: number, w: boolean): void {
        const signed = (f3 & 1) === 0;
        const rem = f3 >= 6;
        readReg(rs1);
        f.set(ta);
        readReg(rs2);
        f.set(tb);
        if (w) {
          // 32-bit operands, sign-extended into ta/tb so the zero and overflow tests are one compare each.
          f.get(ta);
          f.op(Op.i32WrapI64);
          f.op(Op.i64ExtendI32S);
          f.set(ta);
          f.get(tb);
          f.op(Op.i32WrapI64);
          f.op(Op.i64ExtendI32S);
          f.set(tb);
        }
        f.get(tb);
        f.op(Op.i64Eqz);
        f.open(Op.if, I64);
        if (rem) f.get(ta);
        else f.i64(-1);
        f.op(Op.else);
        if (signed && !rem) {
          // Overflow: MIN / -1 = MIN (REM's MIN % -1 = 0 is what wasm's rem_s gives).
          f.get(ta);
          f.i64(w ? -0x80000000 : -(2n ** 63n));
          f.op(Op.i64Eq);
          f.get(tb);
          f.i64(-1);
          f.op(Op.i64Eq);
          f.op(Op.i32And);
          f.open(Op.if, I64);
          f.get(ta);
          f.op(Op.else);
          divOp(signed, rem, w);
          f.end();
        } else {
          divOp(signed, rem, w);
        }
        f.end();
        if (w) {
          f.op(Op.i32WrapI64);
          f.op(Op.i64ExtendI32S);
        }
        writeReg(rd);
      }

      function divOp(signed: boolean, rem: boolean, w: boolean): void {
        if (w) {
          f.get(ta);
          f.op(Op.i32WrapI64);
          f.get(tb);
          f.op(Op.i32WrapI64);
          f.op(signed ? (rem ? Op.i32RemS : Op.i32DivS) : rem ? Op.i32RemU : Op.i32DivU);
          f.op(signed ? Op.i64ExtendI32S : Op.i64ExtendI32U);
        } else {
          f.get(ta);
          f.get(tb);
          f.op(signed ? (rem ? Op.i64RemS : Op.i64DivS) : rem ? Op.i64RemU : Op.i64DivU);
        }
      }

      /** addr = rs1 + imm; lo = low word; ent = TLB entry address for (lo, tlbBase). */
      function emitAddr(imm: number, tlbExtra: number): void {
        readReg(rs1);
        f.i64(imm);
        f.op(Op.i64Add);
        f.tee(addr);
        f.op(Op.i32WrapI64);
        f.tee(lo);
        f.i32(12);
        f.op(Op.i32ShrU);
        f.i32(255);
        f.op(Op.i32And);
        f.i32(2);
        f.op(Op.i32Shl);
        f.get(P_TLB);
        f.op(Op.i32Add);
        if (tlbExtra !== 0) {
          f.i32(tlbExtra);
          f.op(Op.i32Add);
        }
        f.set(ent);
      }

      /** Push the TLB hit test for an access of `size` bytes (the tag keeps misaligned accesses out). */
      function emitHit(size: number): void {
        f.get(ent);
        f.mem(Op.i32Load, 2, 0);
        f.get(lo);
        f.i32(-4096 | (size - 1));
        f.op(Op.i32And);
        f.op(Op.i32Eq);
        f.get(ent);
        f.mem(Op.i32Load, 2, TLB_TAG_HI);
        f.get(addr);
        f.i64(32);
        f.op(Op.i64ShrU);
        f.op(Op.i32WrapI64);
        f.op(Op.i32Eq);
        f.op(Op.i32And);
      }

      /** Push the wasm address of the hit: RAM offset of the page plus the page offset (RAM_OFFSET static). */
      function emitHostAddr(): void {
        f.get(ent);
        f.mem(Op.i32Load, 2, TLB_OFF);
        f.get(lo);
        f.i32(0xfff);
        f.op(Op.i32And);
        f.op(Op.i32Add);
      }

      function emitLoad(k: number, f3: number, pc: number): void {
        const size = 1 << (f3 & 3);
        emitAddr(immI, 0);
        emitHit(size);
        f.open(Op.if, I64);
        emitHostAddr();
        const loads = [
          Op.i64Load8S,
          Op.i64Load16S,
          Op.i64Load32S,
          Op.i64Load,
          Op.i64Load8U,
          Op.i64Load16U,
          Op.i64Load32U,
        ];
        f.mem(loads[f3], 0, RAM_OFFSET);
        f.op(Op.else);
        f.f64c(pc);
        f.get(lo);
        f.get(addr);
        f.i64(32);
        f.op(Op.i64ShrU);
        f.op(Op.i32WrapI64);
        f.i32(f3);
        f.call(H_LOAD);
        f.op(Op.i32Eqz);
        f.open(Op.if);
        trapExit(k, 2);
        f.end();
        f.i32(0);
        f.mem(Op.i64Load, 3, hartBlock + SCRATCH_OFF);
        f.end();
        writeReg(rd);
      }

      /**
       * LR/SC/AMO through the helper, which runs the interpreter's implementation on the hart's registers
       * in memory: rs1 and rs2 are written back first and rd reloaded after. 0: trapped; 2: the write hit
       * a page holding translated code, so the region leaves after this instruction (as for stores).
       */
      function emitAtomic(k: number, pc: number, next: number): void {
        for (const r of new Set([rs1, rs2])) {
          const l = reg.get(r);
          if (r === 0 || l === undefined) continue;
          f.i32(0);
          f.get(l);
          f.mem(Op.i64Store, 3, xAddr(r));
        }
        f.f64c(pc);
        f.i32(insn);
        f.call(H_AMO);
        f.tee(t32);
        f.op(Op.i32Eqz);
        f.open(Op.if);
        trapExit(k, 1);
        f.end();
        if (rd !== 0) {
          f.i32(0);
          f.mem(Op.i64Load, 3, xAddr(rd));
          writeReg(rd);
        }
        f.get(t32);
        f.i32(2);
        f.op(Op.i32Eq);
        f.open(Op.if);
        addCount(k + 1);
        exitTo(next, 1);
        f.end();
      }

      /**
       * One instruction (F/D) run by the interpreter through the helper: every register the region changed
       * is written back first and every one it uses reloaded after (an FP move or compare writes an
       * integer register). 0: trapped; 2: a store hit translated code, so the region leaves after it.
       */
      function emitViaInterpreter(k: number, pc: number, next: number): void {
        for (const r of written) {
          f.i32(0);
          f.get(reg.get(r) as number);
          f.mem(Op.i64Store, 3, xAddr(r));
        }
        f.f64c(pc);
        f.call(H_INTERP);
        f.tee(t32);
        f.op(Op.i32Eqz);
        f.open(Op.if);
        trapExit(k, 1);
        f.end();
        for (const [r, l] of reg) {
          f.i32(0);
          f.mem(Op.i64Load, 3, xAddr(r));
          f.set(l);
        }
        f.get(t32);
        f.i32(2);
        f.op(Op.i32Eq);
        f.open(Op.if);
        addCount(k + 1);
        exitTo(next, 1);
        f.end();
      }

      function emitStore(k: number, f3: number, pc: number, next: number): void {
        const size = 1 << f3;
        const imm = ((insn >> 25) << 5) | ((insn >>> 7) & 31);
        emitAddr(imm, TLB_BYTES);
        emitHit(size);
        f.open(Op.if);
        emitHostAddr();
        readReg(rs2);
        f.mem([Op.i64Store8, Op.i64Store16, Op.i64Store32, Op.i64Store][f3], 0, RAM_OFFSET);
        f.op(Op.else);
        f.f64c(pc);
        f.get(lo);
        f.get(addr);
        f.i64(32);
        f.op(Op.i64ShrU);
        f.op(Op.i32WrapI64);
        f.i32(size);
        readReg(rs2);
        f.op(Op.i32WrapI64);
        readReg(rs2);
        f.i64(32);
        f.op(Op.i64ShrU);
        f.op(Op.i32WrapI64);
        f.call(H_STORE);
        f.tee(t32);
        f.op(Op.i32Eqz);
        f.open(Op.if);
        trapExit(k, 2);
        f.end();
        // 2: the store hit a page holding translated code, maybe this one; leave after this instruction.
        f.get(t32);
        f.i32(2);
        f.op(Op.i32Eq);
        f.open(Op.if);
        addCount(k + 1);
        exitTo(next, 2);
        f.end();
        f.end();
      }
    }
  }
  f.end(); // loop
  f.end(); // exit block
  for (const r of written) {
    f.i32(0);
    f.get(reg.get(r) as number);
    f.mem(Op.i64Store, 3, xAddr(r));
  }
  f.get(count);
}
