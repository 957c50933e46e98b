/**
 * A small WebAssembly binary writer (WebAssembly core spec 2.0, chapter 5 "Binary Format"): the function
 * body builder emits instructions with LEB128 immediates, the module builder writes the type, import,
 * function, export and code sections. Only what the translator needs: i32/i64/f64 values, one imported
 * memory, imported and defined functions.
 */

/** Value types (spec 5.3.1). */
export const I32 = 0x7f;
export const I64 = 0x7e;
export const F64 = 0x7c;
/** Block type "no result" (spec 5.4.1). */
export const VOID = 0x40;

/** Opcodes used by the translator (spec 5.4). */
export const Op = {
  unreachable: 0x00,
  block: 0x02,
  loop: 0x03,
  if: 0x04,
  else: 0x05,
  end: 0x0b,
  br: 0x0c,
  brIf: 0x0d,
  brTable: 0x0e,
  return: 0x0f,
  call: 0x10,
  callIndirect: 0x11,
  drop: 0x1a,
  select: 0x1b,
  localGet: 0x20,
  localSet: 0x21,
  localTee: 0x22,
  i32Load: 0x28,
  i64Load: 0x29,
  f64Load: 0x2b,
  i64Load8S: 0x30,
  i64Load8U: 0x31,
  i64Load16S: 0x32,
  i64Load16U: 0x33,
  i64Load32S: 0x34,
  i64Load32U: 0x35,
  i32Store: 0x36,
  i64Store: 0x37,
  f64Store: 0x39,
  i64Store8: 0x3c,
  i64Store16: 0x3d,
  i64Store32: 0x3e,
  i32Const: 0x41,
  i64Const: 0x42,
  f64Const: 0x44,
  i32Eqz: 0x45,
  i32Eq: 0x46,
  i32Ne: 0x47,
  i32LtS: 0x48,
  i32LtU: 0x49,
  i32GtS: 0x4a,
  i32GtU: 0x4b,
  i32LeS: 0x4c,
  i32GeU: 0x4f,
  i64Eqz: 0x50,
  i64Eq: 0x51,
  i64Ne: 0x52,
  i64LtS: 0x53,
  i64LtU: 0x54,
  i64GeS: 0x59,
  i64GeU: 0x5a,
  i32Add: 0x6a,
  i32Sub: 0x6b,
  i32Mul: 0x6c,
  i32DivS: 0x6d,
  i32DivU: 0x6e,
  i32RemS: 0x6f,
  i32RemU: 0x70,
  i32And: 0x71,
  i32Or: 0x72,
  i32Xor: 0x73,
  i32Shl: 0x74,
  i32ShrS: 0x75,
  i32ShrU: 0x76,
  i64Add: 0x7c,
  i64Sub: 0x7d,
  i64Mul: 0x7e,
  i64DivS: 0x7f,
  i64DivU: 0x80,
  i64RemS: 0x81,
  i64RemU: 0x82,
  i64And: 0x83,
  i64Or: 0x84,
  i64Xor: 0x85,
  i64Shl: 0x86,
  i64ShrS: 0x87,
  i64ShrU: 0x88,
  i32WrapI64: 0xa7,
  i64ExtendI32S: 0xac,
  i64ExtendI32U: 0xad,
  f64ConvertI64S: 0xb9,
} as const;

const F64_BYTES = new Uint8Array(8);
const F64_SCRATCH = new DataView(F64_BYTES.buffer);

/** A growable byte buffer with LEB128 writers (spec 5.2.2). */
export class ByteWriter {
  private buf = new Uint8Array(256);
  length = 0;

  byte(b: number): void {
    if (this.length === this.buf.length) {
      const n = new Uint8Array(this.buf.length * 2);
      n.set(this.buf);
      this.buf = n;
    }
    this.buf[this.length++] = b;
  }

  bytes(b: Uint8Array | readonly number[]): void {
    if (b instanceof Uint8Array) {
      while (this.length + b.length > this.buf.length) {
        const n = new Uint8Array(this.buf.length * 2);
        n.set(this.buf);
        this.buf = n;
      }
      this.buf.set(b, this.length);
      this.length += b.length;
      return;
    }
    for (const x of b) this.byte(x);
  }

  u32(v: number): void {
    let x = v >>> 0;
    do {
      let b = x & 0x7f;
      x >>>= 7;
      if (x !== 0) b |= 0x80;
      this.byte(b);
    } while (x !== 0);
  }

  /** Signed LEB128 of a 32-bit integer. */
  s32(v: number): void {
    let x = v | 0;
    for (;;) {
      const b = x & 0x7f;
      x >>= 7;
      if ((x === 0 && (b & 0x40) === 0) || (x === -1 && (b & 0x40) !== 0)) {
        this.byte(b);
        return;
      }
      this.byte(b | 0x80);
    }
  }

  /** Signed LEB128 of a 64-bit integer given as a bigint. */
  s64(v: bigint): void {
    let x = BigInt.asIntN(64, v);
    for (;;) {
      const b = Number(x & 0x7fn);
      x >>= 7n;
      if ((x === 0n && (b & 0x40) === 0) || (x === -1n && (b & 0x40) !== 0)) {
        this.byte(b);
        return;
      }
      this.byte(b | 0x80);
    }
  }

  /** Signed LEB128 of an integer held exactly in a JS number (|v| < 2^53), without BigInt. */
  sNum(v: number): void {
    if (v === (v | 0)) {
      this.s32(v);
      return;
    }
    let x = v;
    for (;;) {
      const b = ((x % 128) + 128) % 128;
      x = (x - b) / 128;
      if ((x === 0 && (b & 0x40) === 0) || (x === -1 && (b & 0x40) !== 0)) {
        this.byte(b);
        return;
      }
      this.byte(b | 0x80);
    }
  }

  f64(v: number): void {
    F64_SCRATCH.setFloat64(0, v, true);
    for (let i = 0; i < 8; i++) this.byte(F64_BYTES[i]);
  }

  name(s: string): void {
    const b = new TextEncoder().encode(s);
    this.u32(b.length);
    this.bytes(b);
  }

  result(): Uint8Array<ArrayBuffer> {
    return this.buf.subarray(0, this.length);
  }
}

/** One function body: locals by type, then code. */
export class FunctionBody extends ByteWriter {
  private readonly localTypes: number[] = [];

  constructor(readonly paramCount: number) {
    super();
  }

  /** Declare a local; returns its index (parameters come first). */
  local(type: number): number {
    this.localTypes.push(type);
    return this.paramCount + this.localTypes.length - 1;
  }

  op(o: number): void {
    this.byte(o);
  }

  get(i: number): void {
    this.byte(Op.localGet);
    this.u32(i);
  }

  set(i: number): void {
    this.byte(Op.localSet);
    this.u32(i);
  }

  tee(i: number): void {
    this.byte(Op.localTee);
    this.u32(i);
  }

  i32(v: number): void {
    this.byte(Op.i32Const);
    this.s32(v);
  }

  /** i64.const of a signed 64-bit value held as an int32 pair, or a JS number exact below 2^53. */
  i64(v: number | bigint): void {
    this.byte(Op.i64Const);
    if (typeof v === "bigint") this.s64(v);
    else this.sNum(v);
  }

  f64c(v: number): void {
    this.byte(Op.f64Const);
    this.f64(v);
  }

  /** A memory access with alignment hint (log2) and static offset. */
  mem(o: number, alignLog2: number, offset: number): void {
    this.byte(o);
    this.u32(alignLog2);
    this.u32(offset);
  }

  call(fn: number): void {
    this.byte(Op.call);
    this.u32(fn);
  }

  /** call_indirect through table 0 with type index `type` (the callee index is on the stack). */
  callIndirect(type: number): void {
    this.byte(Op.callIndirect);
    this.u32(type);
    this.byte(0x00);
  }

  br(depth: number): void {
    this.byte(Op.br);
    this.u32(depth);
  }

  brIf(depth: number): void {
    this.byte(Op.brIf);
    this.u32(depth);
  }

  brTable(targets: number[], dflt: number): void {
    this.byte(Op.brTable);
    this.u32(targets.length);
    for (const t of targets) this.u32(t);
    this.u32(dflt);
  }

  /** block / loop / if with a block type (VOID or a value type). */
  open(o: number, type: number = VOID): void {
    this.byte(o);
    this.byte(type);
  }

  end(): void {
    this.byte(Op.end);
  }

  /** The encoded body: size, local declarations (runs of one type), code. */
  encode(): Uint8Array {
    const w = new ByteWriter();
    const runs: Array<[number, number]> = [];
    for (const t of this.localTypes) {
      const last = runs[runs.length - 1];
      if (last !== undefined && last[1] === t) last[0]++;
      else runs.push([1, t]);
    }
    w.u32(runs.length);
    for (const [n, t] of runs) {
      w.u32(n);
      w.byte(t);
    }
    w.bytes(this.result());
    w.byte(Op.end);
    const out = new ByteWriter();
    out.u32(w.length);
    out.bytes(w.result());
    return out.result();
  }
}

interface FuncType {
  params: number[];
  results: number[];
}

/** A module: imported memory "env.memory" (min pages), imported functions, defined and exported functions. */
export class ModuleBuilder {
  private readonly types: FuncType[] = [];
  private readonly imports: Array<{ module: string; name: string; type: number }> = [];
  private readonly funcs: Array<{ type: number; body: FunctionBody; exportName: string }> = [];
  /** An imported funcref table "env.table" (its minimum size), or null. */
  private table: number | null = null;

  constructor(private readonly memoryPages: number) {}

  /** Import a funcref table as "env.table" with at least `min` elements (for call_indirect). */
  importTable(min: number): void {
    this.table = min;
  }

  /** The index of a function type (added if new), for call_indirect. */
  typeIndex(params: number[], results: number[]): number {
    const i = this.types.findIndex(
      (t) =>
        t.params.length === params.length &&
        t.results.length === results.length &&
        t.params.every((p, k) => p === params[k]) &&
        t.results.every((r, k) => r === results[k]),
    );
    if (i >= 0) return i;
    this.types.push({ params, results });
    return this.types.length - 1;
  }

  /** Import a function; returns its function index. All imports must be added before any function. */
  importFunction(module: string, name: string, params: number[], results: number[]): number {
    if (this.funcs.length > 0) throw new Error("imports must precede defined functions");
    this.imports.push({ module, name, type: this.typeIndex(params, results) });
    return this.imports.length - 1;
  }

  /** Add a defined, exported function; returns its function index. */
  addFunction(exportName: string, params: number[], results: number[], body: FunctionBody): number {
    this.funcs.push({ type: this.typeIndex(params, results), body, exportName });
    return this.imports.length + this.funcs.length - 1;
  }

  /** The module's bytes, in a plain ArrayBuffer (what WebAssembly.Module's BufferSource asks for). */
  encode(): Uint8Array<ArrayBuffer> {
    const out = new ByteWriter();
    out.bytes([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
    const section = (id: number, write: (w: ByteWriter) => void) => {
      const w = new ByteWriter();
      write(w);
      out.byte(id);
      out.u32(w.length);
      out.bytes(w.result());
    };
    section(1, (w) => {
      w.u32(this.types.length);
      for (const t of this.types) {
        w.byte(0x60);
        w.u32(t.params.length);
        for (const p of t.params) w.byte(p);
        w.u32(t.results.length);
        for (const r of t.results) w.byte(r);
      }
    });
    section(2, (w) => {
      w.u32(this.imports.length + 1 + (this.table === null ? 0 : 1));
      w.name("env");
      w.name("memory");
      w.byte(0x02);
      w.byte(0x00);
      w.u32(this.memoryPages);
      if (this.table !== null) {
        // Table import (spec 5.5.5): funcref, limits without a maximum.
        w.name("env");
        w.name("table");
        w.byte(0x01);
        w.byte(0x70);
        w.byte(0x00);
        w.u32(this.table);
      }
      for (const imp of this.imports) {
        w.name(imp.module);
        w.name(imp.name);
        w.byte(0x00);
        w.u32(imp.type);
      }
    });
    section(3, (w) => {
      w.u32(this.funcs.length);
      for (const f of this.funcs) w.u32(f.type);
    });
    section(7, (w) => {
      w.u32(this.funcs.length);
      this.funcs.forEach((f, i) => {
        w.name(f.exportName);
        w.byte(0x00);
        w.u32(this.imports.length + i);
      });
    });
    section(10, (w) => {
      w.u32(this.funcs.length);
      for (const f of this.funcs) w.bytes(f.body.encode());
    });
    return out.result();
  }
}
