/**
 * Hostile qcow2 constructions, built by the tests from tvisor's own small images (no fixtures): each one
 * is a few KiB on disk and once made tvisor do work proportional to a size the file only claims.
 */
import { closeSync, openSync, readFileSync, truncateSync, writeFileSync, writeSync } from "node:fs";
import { createImageFile } from "../../src/storage/node/create-image.js";
import { openImageBackend } from "../../src/storage/node/open-image.js";
import type { Qcow2Image } from "../../src/storage/qcow2/image.js";

export function be32(b: Uint8Array, off: number): number {
  return new DataView(b.buffer, b.byteOffset).getUint32(off);
}

export function putBe32(b: Uint8Array, off: number, v: number): void {
  new DataView(b.buffer, b.byteOffset).setUint32(off, v >>> 0);
}

export function putBe64(b: Uint8Array, off: number, v: number): void {
  putBe32(b, off, Math.floor(v / 2 ** 32));
  putBe32(b, off + 4, v % 2 ** 32);
}

export function putBe16(b: Uint8Array, off: number, v: number): void {
  new DataView(b.buffer, b.byteOffset).setUint16(off, v);
}

/** Layout of a fresh 512-byte-cluster image from createImageFile: header, reftable, block, L1. */
export const CS = 512;
export const REFTABLE = 512;
export const REFBLOCK = 1024;
export const L1 = 1536;

/** A v3 image with 512-byte clusters and one allocated data cluster at guest offset 0 (and its L2 table). */
export async function smallImage(path: string, size = 1 << 20): Promise<{ l2: number; data: number }> {
  await createImageFile(path, { format: "qcow2", size, clusterSize: CS });
  const img = (await openImageBackend(path, { format: "qcow2" })) as Qcow2Image;
  try {
    await img.write(0, new Uint8Array(CS).fill(0x5a));
    const l2 = img.l1Off[0]!;
    const t = await img.readL2(l2);
    return { l2, data: (be32(t, 0) & 0x00ffffff) * 2 ** 32 + (be32(t, 4) & ~0x1ff) };
  } finally {
    await img.close();
  }
}

/**
 * The refcount table is moved to the end and every one of its entries names the same refcount block,
 * filled with refcount 1: the table claims `clusters * 64 * 256` clusters, all in use.
 */
export async function sharedRefblock(path: string, tableClusters = 508): Promise<void> {
  await createImageFile(path, { format: "qcow2", size: 1 << 20, clusterSize: CS });
  const b = new Uint8Array(readFileSync(path));
  const out = new Uint8Array(b.length + tableClusters * CS);
  out.set(b);
  for (let i = 0; i < CS / 2; i++) putBe16(out, REFBLOCK + 2 * i, 1);
  const at = b.length;
  for (let i = 0; i < (tableClusters * CS) / 8; i++) putBe64(out, at + 8 * i, REFBLOCK);
  putBe64(out, 48, at);
  putBe32(out, 56, tableClusters);
  writeFileSync(path, out);
}

/** One L2 entry flagged zero whose preallocated host offset is 2^55 (far past the end of the file). */
export async function farZeroEntry(path: string, dirty = false): Promise<void> {
  const { l2 } = await smallImage(path);
  const b = new Uint8Array(readFileSync(path));
  putBe32(b, l2 + 8 * 5, 0x00800000); // bits 32-55 of the offset: 2^55
  putBe32(b, l2 + 8 * 5 + 4, 1); // zero flag
  if (dirty) putBe32(b, 76, be32(b, 76) | 1);
  writeFileSync(path, b);
}

/**
 * `count` snapshots that all share one L1 table of `l1Entries` entries (the active one, grown in place
 * over a sparse tail): a small file whose snapshots claim count * l1Entries * 8 bytes of L1 tables.
 */
export async function snapshotsSharingL1(path: string, count: number, l1Entries: number): Promise<void> {
  await createImageFile(path, { format: "qcow2", size: 1 << 20, clusterSize: CS });
  const b = new Uint8Array(readFileSync(path));
  putBe32(b, 36, l1Entries);
  const tableAt = Math.ceil((L1 + l1Entries * 8) / CS) * CS;
  const entries: Uint8Array[] = [];
  let total = 0;
  for (let i = 0; i < count; i++) {
    const id = new TextEncoder().encode(String(i + 1));
    const len = (40 + 16 + id.length * 2 + 7) & ~7;
    const e = new Uint8Array(len);
    putBe64(e, 0, L1);
    putBe32(e, 8, l1Entries);
    putBe16(e, 12, id.length);
    putBe16(e, 14, id.length);
    putBe32(e, 36, 16);
    e.set(id, 56);
    e.set(id, 56 + id.length);
    entries.push(e);
    total += len;
  }
  putBe32(b, 60, count);
  putBe64(b, 64, tableAt);
  writeFileSync(path, b);
  // The grown L1 table stays a hole: the file is large only in its apparent size.
  truncateSync(path, tableAt);
  const table = new Uint8Array(total);
  let o = 0;
  for (const e of entries) {
    table.set(e, o);
    o += e.length;
  }
  const fd = openSync(path, "r+");
  try {
    writeSync(fd, table, 0, table.length, tableAt);
  } finally {
    closeSync(fd);
  }
}

/** The data cluster's L2 entry (COPIED) is pointed at `target`, another metadata structure. */
export async function dataOnMetadata(path: string, target: number): Promise<void> {
  const { l2 } = await smallImage(path);
  const b = new Uint8Array(readFileSync(path));
  putBe32(b, l2, 0x80000000);
  putBe32(b, l2 + 4, target);
  writeFileSync(path, b);
}

/** L1 entry 1 (COPIED) names the refcount table as its L2 table, so an L2 update would land on it. */
export async function l2OnRefcountTable(path: string): Promise<void> {
  await smallImage(path);
  const b = new Uint8Array(readFileSync(path));
  putBe32(b, L1 + 8, 0x80000000);
  putBe32(b, L1 + 12, REFTABLE);
  writeFileSync(path, b);
}
