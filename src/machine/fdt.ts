/** A flattened device tree (DTB) writer: header, memory reservation block, structure block and strings block. */

/** Devicetree Specification v0.4, 5.1: the header magic, and 5.4.1: structure block tokens. */
export const FDT_MAGIC = 0xd00dfeed;
export const FDT_BEGIN_NODE = 0x1;
export const FDT_END_NODE = 0x2;
export const FDT_PROP = 0x3;
export const FDT_NOP = 0x4;
export const FDT_END = 0x9;
/** DT spec 5.2: we emit version 17, readable by anything that understands version 16. */
export const FDT_VERSION = 17;
export const FDT_LAST_COMP_VERSION = 16;
/** DT spec 5.2: the header is ten big-endian u32 fields. */
const HEADER_SIZE = 40;

/** A growable big-endian byte buffer. */
class ByteSink {
  private buf = new Uint8Array(1024);
  length = 0;

  private ensure(extra: number): void {
    if (this.length + extra <= this.buf.length) return;
    let n = this.buf.length * 2;
    while (n < this.length + extra) n *= 2;
    const next = new Uint8Array(n);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }

  u32(v: number): void {
    this.ensure(4);
    const b = this.buf;
    const o = this.length;
    b[o] = (v >>> 24) & 0xff;
    b[o + 1] = (v >>> 16) & 0xff;
    b[o + 2] = (v >>> 8) & 0xff;
    b[o + 3] = v & 0xff;
    this.length += 4;
  }

  bytes(data: Uint8Array): void {
    this.ensure(data.length);
    this.buf.set(data, this.length);
    this.length += data.length;
  }

  /** DT spec 5.4.1: every token starts on a 4-byte boundary, so pad with zeroes. */
  align4(): void {
    const pad = (4 - (this.length & 3)) & 3;
    this.ensure(pad);
    for (let i = 0; i < pad; i++) this.buf[this.length++] = 0;
  }

  view(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
}

const encoder = new TextEncoder();

/** NUL-terminated UTF-8 (device tree strings are printable ASCII in practice). */
function cstring(s: string): Uint8Array {
  const e = encoder.encode(s);
  const out = new Uint8Array(e.length + 1);
  out.set(e);
  return out;
}

/** Split a 64-bit quantity (a JS number below 2^53, or a bigint) into two big-endian u32 cells. */
export function cells64(v: number | bigint): [number, number] {
  const b = BigInt(v);
  if (b < 0n || b >= 1n << 64n) throw new RangeError(`value ${v} does not fit in 64 bits`);
  return [Number(b >> 32n), Number(b & 0xffffffffn)];
}

/** A property value: raw bytes, a string list, or u32 cells. */
export type FdtValue = Uint8Array | string | string[] | number[];

/**
 * Builds a DTB in one pass: open nodes, add properties, close nodes, then `finish()`.
 * Property names are deduplicated in the strings block (DT spec 5.5).
 */
export class FdtWriter {
  private readonly struct = new ByteSink();
  private readonly strings = new ByteSink();
  private readonly stringOffsets = new Map<string, number>();
  private readonly reservations: Array<[number | bigint, number | bigint]> = [];
  private depth = 0;
  private nextPhandle = 1;
  private finished = false;

  constructor(private readonly bootCpuId = 0) {}

  /** A fresh phandle value (DT spec 2.3.3: unique, non-zero, not 0xffffffff). */
  allocPhandle(): number {
    return this.nextPhandle++;
  }

  /** DT spec 5.3: an entry of the memory reservation block (memory the OS must not use). */
  addReservation(address: number | bigint, size: number | bigint): void {
    this.reservations.push([address, size]);
  }

  /** Open a node. The root node's name is the empty string (DT spec 5.4.1, FDT_BEGIN_NODE). */
  beginNode(name: string): void {
    this.checkOpen();
    if (this.depth === 0 && name !== "") throw new Error("the first node must be the root node (empty name)");
    if (name.includes("/")) throw new Error(`invalid node name ${JSON.stringify(name)}`);
    this.struct.u32(FDT_BEGIN_NODE);
    this.struct.bytes(cstring(name));
    this.struct.align4();
    this.depth++;
  }

  endNode(): void {
    this.checkOpen();
    if (this.depth === 0) throw new Error("endNode without a matching beginNode");
    this.struct.u32(FDT_END_NODE);
    this.depth--;
  }

  /**
   * Add a property to the open node. Strings become NUL-terminated, string arrays a concatenated
   * stringlist, number arrays big-endian u32 cells (DT spec 2.2.4 property values).
   */
  prop(name: string, value: FdtValue): void {
    this.checkOpen();
    if (this.depth === 0) throw new Error(`property ${name} outside any node`);
    const data = encodeValue(value);
    this.struct.u32(FDT_PROP);
    this.struct.u32(data.length);
    this.struct.u32(this.stringOffset(name));
    this.struct.bytes(data);
    this.struct.align4();
  }

  /** A property with no value (a boolean flag such as `interrupt-controller`). */
  propEmpty(name: string): void {
    this.prop(name, new Uint8Array(0));
  }

  /** A single u32 cell. */
  propU32(name: string, value: number): void {
    this.prop(name, [value]);
  }

  /** A single u64 encoded as two cells (e.g. `linux,initrd-start` when above 4 GiB). */
  propU64(name: string, value: number | bigint): void {
    this.prop(name, cells64(value));
  }

  /** Lay out header, reservation map, structure and strings (DT spec 5.1: that order is conventional). */
  finish(): Uint8Array {
    this.checkOpen();
    if (this.depth !== 0) throw new Error(`${this.depth} node(s) still open`);
    this.struct.u32(FDT_END);
    this.finished = true;

    const rsv = new ByteSink();
    for (const [addr, size] of this.reservations) {
      for (const c of [...cells64(addr), ...cells64(size)]) rsv.u32(c);
    }
    // DT spec 5.3: the block is terminated by an entry with address and size both zero.
    for (let i = 0; i < 4; i++) rsv.u32(0);

    // DT spec 5.3: the reservation block is 8-byte aligned; the structure block 4-byte aligned.
    const offRsv = HEADER_SIZE; // 40 is already a multiple of 8
    const offStruct = offRsv + rsv.length;
    const structBytes = this.struct.view();
    const offStrings = offStruct + structBytes.length;
    const stringBytes = this.strings.view();
    const total = offStrings + stringBytes.length;

    const out = new Uint8Array(total);
    const dv = new DataView(out.buffer);
    const header = [
      FDT_MAGIC,
      total,
      offStruct,
      offStrings,
      offRsv,
      FDT_VERSION,
      FDT_LAST_COMP_VERSION,
      this.bootCpuId,
      stringBytes.length,
      structBytes.length,
    ];
    header.forEach((v, i) => {
      dv.setUint32(i * 4, v >>> 0, false);
    });
    out.set(rsv.view(), offRsv);
    out.set(structBytes, offStruct);
    out.set(stringBytes, offStrings);
    return out;
  }

  private stringOffset(name: string): number {
    const known = this.stringOffsets.get(name);
    if (known !== undefined) return known;
    const off = this.strings.length;
    this.strings.bytes(cstring(name));
    this.stringOffsets.set(name, off);
    return off;
  }

  private checkOpen(): void {
    if (this.finished) throw new Error("FdtWriter already finished");
  }
}

function encodeValue(value: FdtValue): Uint8Array {
  if (value instanceof Uint8Array) return value;
  if (typeof value === "string") return cstring(value);
  if (value.length === 0) return new Uint8Array(0);
  if (typeof value[0] === "string") {
    const parts = (value as string[]).map(cstring);
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }
  const nums = value as number[];
  const out = new Uint8Array(nums.length * 4);
  const dv = new DataView(out.buffer);
  nums.forEach((n, i) => {
    if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError(`cell ${n} is not a u32`);
    dv.setUint32(i * 4, n, false);
  });
  return out;
}
