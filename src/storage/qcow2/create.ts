/** Creating an empty qcow2 image: header, refcount table and block, and a zeroed L1 table (qcow2 spec, "Header"). */
import { UserError } from "../../base/errors.js";
import { putBe64 } from "../bytes.js";
import type { FileHandle } from "../file-handle.js";
import {
  COMPAT_LAZY_REFCOUNTS,
  INCOMPAT_COMPRESSION,
  l1EntriesFor,
  MAX_CLUSTER_BITS,
  MAX_L1_BYTES,
  MIN_CLUSTER_BITS,
  type Qcow2Header,
  serializeHeader,
  V2_HEADER_LENGTH,
  V3_HEADER_LENGTH_WITH_COMPRESSION,
} from "./header.js";

export interface Qcow2CreateOptions {
  size: number;
  clusterSize?: number;
  /** 2 (compat=0.10) or 3 (compat=1.1, the default). */
  version?: 2 | 3;
  refcountBits?: number;
  lazyRefcounts?: boolean;
  /** 0 deflate (zlib), 1 zstd. */
  compressionType?: number;
  backingFile?: string | null;
  backingFormat?: string | null;
}

/**
 * Write the metadata of a new image, laid out as QEMU does: header in cluster 0, then the refcount table,
 * one refcount block, and the L1 table. The file must be empty.
 */
export async function createQcow2(file: FileHandle, o: Qcow2CreateOptions): Promise<void> {
  const meta = planQcow2(o);
  await file.write(0, meta);
  await file.sync();
}

/**
 * Check every option and build the new image's metadata in memory, touching no file: callers validate
 * with this before they empty an existing file (a bad option must never destroy one).
 */
export function planQcow2(o: Qcow2CreateOptions): Uint8Array {
  const cs = o.clusterSize ?? 65536;
  const clusterBits = Math.log2(cs);
  if (o.backingFormat !== undefined && o.backingFormat !== null && !/^[a-z0-9]{1,16}$/.test(o.backingFormat))
    throw new UserError("invalid backing format name");
  if (!Number.isInteger(clusterBits) || clusterBits < MIN_CLUSTER_BITS || clusterBits > MAX_CLUSTER_BITS) {
    throw new UserError(`cluster size must be a power of two between 512 and 2M, not ${cs}`);
  }
  const version = o.version ?? 3;
  const refcountBits = o.refcountBits ?? 16;
  const refcountOrder = Math.log2(refcountBits);
  if (!Number.isInteger(refcountOrder) || refcountOrder < 0 || refcountOrder > 6) {
    throw new UserError(`refcount_bits must be a power of two up to 64, not ${refcountBits}`);
  }
  if (version === 2 && refcountBits !== 16) throw new UserError("compat=0.10 requires refcount_bits=16");
  if (version === 2 && o.lazyRefcounts) throw new UserError("lazy refcounts require compat=1.1");
  const compressionType = o.compressionType ?? 0;
  if (version === 2 && compressionType !== 0)
    throw new UserError("compression_type=zstd requires compat=1.1");
  if (!Number.isSafeInteger(o.size) || o.size < 0) throw new UserError(`invalid size ${o.size}`);
  const l1Size = l1EntriesFor(o.size, clusterBits);
  if (l1Size * 8 > MAX_L1_BYTES)
    throw new UserError(`image size ${o.size} is too large for cluster size ${cs}`);
  const l1Clusters = Math.ceil((l1Size * 8) / cs);
  const blockEntries = (cs * 8) / refcountBits;
  // Grow the refcount structures until they cover everything we lay out, themselves included.
  let rtClusters = 1;
  let blocks = 1;
  for (;;) {
    const total = 1 + rtClusters + blocks + l1Clusters;
    const needBlocks = Math.ceil(total / blockEntries);
    const needRt = Math.ceil((needBlocks * 8) / cs);
    if (needBlocks <= blocks && needRt <= rtClusters) break;
    blocks = Math.max(blocks, needBlocks);
    rtClusters = Math.max(rtClusters, needRt);
  }
  const rtOff = cs;
  const blocksOff = rtOff + rtClusters * cs;
  const l1Off = blocksOff + blocks * cs;
  const total = 1 + rtClusters + blocks + l1Clusters;
  const h: Qcow2Header = {
    version,
    backingFileOffset: 0,
    backingFileSize: 0,
    clusterBits,
    size: o.size,
    cryptMethod: 0,
    l1Size,
    l1TableOffset: l1Size > 0 ? l1Off : 0,
    refcountTableOffset: rtOff,
    refcountTableClusters: rtClusters,
    nbSnapshots: 0,
    snapshotsOffset: 0,
    incompatibleFeatures: compressionType !== 0 ? INCOMPAT_COMPRESSION : 0,
    compatibleFeatures: o.lazyRefcounts ? COMPAT_LAZY_REFCOUNTS : 0,
    autoclearFeatures: 0,
    refcountOrder,
    headerLength: version === 3 ? V3_HEADER_LENGTH_WITH_COMPRESSION : V2_HEADER_LENGTH,
    compressionType,
    backingFile: o.backingFile ?? null,
    backingFormat: o.backingFile ? (o.backingFormat ?? null) : null,
    otherExtensions: [],
  };
  const meta = new Uint8Array(total * cs);
  meta.set(serializeHeader(h), 0);
  for (let i = 0; i < blocks; i++) putBe64(meta, rtOff + 8 * i, blocksOff + i * cs);
  // Every laid-out cluster has refcount 1, written with the same packing the reader uses.
  for (let c = 0; c < total; c++) setRefcount(meta, blocksOff, cs, refcountOrder, c, 1);
  return meta;
}

function setRefcount(b: Uint8Array, base: number, cs: number, order: number, c: number, v: number): void {
  const bits = 2 ** order;
  const bitOff = c * bits;
  const block = Math.floor(bitOff / (cs * 8));
  const inBlock = bitOff % (cs * 8);
  const byte = base + block * cs + Math.floor(inBlock / 8);
  if (bits < 8) {
    b[byte] = b[byte]! | (v << (inBlock % 8));
  } else {
    // Big-endian, value in the last byte (v is 1 here).
    b[byte + bits / 8 - 1] = v;
  }
}
