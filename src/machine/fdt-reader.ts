/** A flattened device tree (DTB) reader: decodes a blob into a node tree, for tests and diagnostics. */
import { FDT_BEGIN_NODE, FDT_END, FDT_END_NODE, FDT_MAGIC, FDT_NOP, FDT_PROP } from "./fdt.js";

export interface FdtNode {
  name: string;
  props: Map<string, Uint8Array>;
  children: FdtNode[];
}

export interface ParsedFdt {
  version: number;
  lastCompVersion: number;
  bootCpuId: number;
  reservations: Array<{ address: bigint; size: bigint }>;
  root: FdtNode;
}

const decoder = new TextDecoder();

/** Parse a DTB (DT spec 5). Throws on any structural inconsistency, with the offset where it was found. */
export function parseFdt(blob: Uint8Array): ParsedFdt {
  const dv = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  if (blob.length < 40 || dv.getUint32(0) !== FDT_MAGIC) throw new Error("not a flattened device tree");
  const total = dv.getUint32(4);
  const offStruct = dv.getUint32(8);
  const offStrings = dv.getUint32(12);
  const offRsv = dv.getUint32(16);
  const version = dv.getUint32(20);
  const lastCompVersion = dv.getUint32(24);
  const bootCpuId = dv.getUint32(28);
  const sizeStrings = dv.getUint32(32);
  const sizeStruct = dv.getUint32(36);
  if (total > blob.length) throw new Error(`totalsize ${total} exceeds blob length ${blob.length}`);
  if (offStruct + sizeStruct > total || offStrings + sizeStrings > total)
    throw new Error("blocks exceed totalsize");

  const reservations: Array<{ address: bigint; size: bigint }> = [];
  for (let o = offRsv; ; o += 16) {
    const address = dv.getBigUint64(o);
    const size = dv.getBigUint64(o + 8);
    if (address === 0n && size === 0n) break;
    reservations.push({ address, size });
  }

  const stringAt = (off: number, limit: number): [string, number] => {
    let end = off;
    while (end < limit && blob[end] !== 0) end++;
    if (end >= limit) throw new Error(`unterminated string at ${off}`);
    return [decoder.decode(blob.subarray(off, end)), end + 1];
  };

  const stack: FdtNode[] = [];
  let root: FdtNode | null = null;
  let o = offStruct;
  const structEnd = offStruct + sizeStruct;
  for (;;) {
    if (o + 4 > structEnd) throw new Error("structure block ended without FDT_END");
    const token = dv.getUint32(o);
    o += 4;
    if (token === FDT_BEGIN_NODE) {
      const [name, next] = stringAt(o, structEnd);
      o = (next + 3) & ~3;
      const node: FdtNode = { name, props: new Map(), children: [] };
      const parent = stack[stack.length - 1];
      if (parent) parent.children.push(node);
      else if (root === null) root = node;
      else throw new Error("second root node");
      stack.push(node);
    } else if (token === FDT_END_NODE) {
      if (stack.pop() === undefined) throw new Error(`unbalanced FDT_END_NODE at ${o - 4}`);
    } else if (token === FDT_PROP) {
      const len = dv.getUint32(o);
      const nameOff = dv.getUint32(o + 4);
      o += 8;
      const node = stack[stack.length - 1];
      if (!node) throw new Error(`property outside a node at ${o - 12}`);
      const [name] = stringAt(offStrings + nameOff, offStrings + sizeStrings);
      node.props.set(name, blob.slice(o, o + len));
      o = (o + len + 3) & ~3;
    } else if (token === FDT_NOP) {
      // DT spec 5.4.1: ignored.
    } else if (token === FDT_END) {
      break;
    } else {
      throw new Error(`bad token ${token} at ${o - 4}`);
    }
  }
  if (root === null || stack.length !== 0) throw new Error("unbalanced nodes");
  return { version, lastCompVersion, bootCpuId, reservations, root };
}

/** Find a node by path such as "/soc/serial@10000000". */
export function findNode(root: FdtNode, path: string): FdtNode | undefined {
  let node: FdtNode | undefined = root;
  for (const part of path.split("/").filter((p) => p.length > 0)) {
    node = node?.children.find((c) => c.name === part);
    if (!node) return undefined;
  }
  return node;
}

/** A property as a list of strings (a stringlist, DT spec 2.2.4). */
export function propStrings(node: FdtNode, name: string): string[] | undefined {
  const v = node.props.get(name);
  if (!v) return undefined;
  const parts = decoder.decode(v).split("\0");
  parts.pop();
  return parts;
}

/** A property as big-endian u32 cells. */
export function propCells(node: FdtNode, name: string): number[] | undefined {
  const v = node.props.get(name);
  if (!v) return undefined;
  const dv = new DataView(v.buffer, v.byteOffset, v.byteLength);
  const out: number[] = [];
  for (let i = 0; i + 4 <= v.length; i += 4) out.push(dv.getUint32(i));
  return out;
}
