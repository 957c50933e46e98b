/** The qcow2 file header and its extensions: parse with full validation, and serialize (qcow2 spec, "Header"). */
import { ImageFormatError } from "../../base/errors.js";
import { be32, be64, putBe32, putBe64 } from "../bytes.js";

export const QCOW2_MAGIC = 0x514649fb; // "QFI\xfb"
export const V2_HEADER_LENGTH = 72;
export const V3_HEADER_LENGTH = 104;
/** QEMU writes 112: the 104-byte v3 header plus compression_type and padding. */
export const V3_HEADER_LENGTH_WITH_COMPRESSION = 112;

// Incompatible feature bits (spec "incompatible_features").
export const INCOMPAT_DIRTY = 1;
export const INCOMPAT_CORRUPT = 2;
export const INCOMPAT_DATA_FILE = 4;
export const INCOMPAT_COMPRESSION = 8;
export const INCOMPAT_EXTL2 = 16;
const INCOMPAT_KNOWN = 0x1f;
// Compatible feature bit 0: lazy refcounts.
export const COMPAT_LAZY_REFCOUNTS = 1;

// Header extension types (spec "Header extensions").
export const EXT_END = 0;
export const EXT_BACKING_FORMAT = 0xe2792aca;
export const EXT_FEATURE_TABLE = 0x6803f857;

/** QEMU's sanity limits (block/qcow2.h): 32 MiB L1, 8 MiB refcount table, 65536 snapshots, 2 MiB clusters. */
export const MAX_L1_BYTES = 32 << 20;
export const MAX_REFTABLE_BYTES = 8 << 20;
export const MAX_SNAPSHOTS = 65536;
export const MIN_CLUSTER_BITS = 9;
export const MAX_CLUSTER_BITS = 21;
export const MAX_BACKING_NAME = 1023;

export interface HeaderExtension {
  type: number;
  data: Uint8Array;
}

export interface Qcow2Header {
  version: 2 | 3;
  backingFileOffset: number;
  backingFileSize: number;
  clusterBits: number;
  size: number;
  cryptMethod: number;
  l1Size: number;
  l1TableOffset: number;
  refcountTableOffset: number;
  refcountTableClusters: number;
  nbSnapshots: number;
  snapshotsOffset: number;
  incompatibleFeatures: number;
  compatibleFeatures: number;
  autoclearFeatures: number;
  refcountOrder: number;
  headerLength: number;
  /** 0 = deflate, 1 = zstd. */
  compressionType: number;
  backingFile: string | null;
  backingFormat: string | null;
  /** Extensions we do not interpret, kept so a header rewrite preserves them. */
  otherExtensions: HeaderExtension[];
}

function bad(msg: string): ImageFormatError {
  return new ImageFormatError(`qcow2: ${msg}`);
}

/** Number of L1 entries needed for a virtual size (spec: l2_entries = cluster_size / 8). */
export function l1EntriesFor(size: number, clusterBits: number): number {
  const perL2 = 2 ** clusterBits * (2 ** clusterBits / 8);
  return Math.ceil(size / perL2);
}

/**
 * Parse the first cluster of an image. `head` holds at least min(file size, cluster) bytes from offset 0;
 * every offset is checked against fileSize and QEMU's limits before it is used.
 */
export function parseHeader(head: Uint8Array, fileSize: number): Qcow2Header {
  if (head.length < V2_HEADER_LENGTH) throw bad(`file is too short for a header (${head.length} bytes)`);
  if (be32(head, 0) !== QCOW2_MAGIC) throw bad("bad magic");
  const version = be32(head, 4);
  if (version !== 2 && version !== 3) throw bad(`unsupported version ${version}`);
  const clusterBits = be32(head, 20);
  if (clusterBits < MIN_CLUSTER_BITS || clusterBits > MAX_CLUSTER_BITS) {
    throw bad(`cluster_bits ${clusterBits} is outside ${MIN_CLUSTER_BITS}..${MAX_CLUSTER_BITS}`);
  }
  const cs = 2 ** clusterBits;
  const h: Qcow2Header = {
    version,
    backingFileOffset: be64(head, 8, "backing_file_offset", bad),
    backingFileSize: be32(head, 16),
    clusterBits,
    size: be64(head, 24, "size", bad),
    cryptMethod: be32(head, 32),
    l1Size: be32(head, 36),
    l1TableOffset: be64(head, 40, "l1_table_offset", bad),
    refcountTableOffset: be64(head, 48, "refcount_table_offset", bad),
    refcountTableClusters: be32(head, 56),
    nbSnapshots: be32(head, 60),
    snapshotsOffset: be64(head, 64, "snapshots_offset", bad),
    incompatibleFeatures: 0,
    compatibleFeatures: 0,
    autoclearFeatures: 0,
    refcountOrder: 4,
    headerLength: V2_HEADER_LENGTH,
    compressionType: 0,
    backingFile: null,
    backingFormat: null,
    otherExtensions: [],
  };
  if (version === 3) {
    if (head.length < V3_HEADER_LENGTH) throw bad("file is too short for a version 3 header");
    const incHi = be32(head, 72);
    h.incompatibleFeatures = be32(head, 76);
    if (incHi !== 0 || (h.incompatibleFeatures & ~INCOMPAT_KNOWN) !== 0) {
      throw bad(
        `unknown incompatible feature bits 0x${incHi.toString(16)}${h.incompatibleFeatures.toString(16)}`,
      );
    }
    h.compatibleFeatures = be32(head, 84);
    h.autoclearFeatures = be32(head, 92);
    h.refcountOrder = be32(head, 96);
    h.headerLength = be32(head, 100);
    if (
      h.headerLength < V3_HEADER_LENGTH ||
      h.headerLength % 8 !== 0 ||
      h.headerLength > Math.min(cs, head.length)
    ) {
      throw bad(`invalid header_length ${h.headerLength}`);
    }
    if (h.headerLength > V3_HEADER_LENGTH) h.compressionType = head[104]!;
    const hasCompressionBit = (h.incompatibleFeatures & INCOMPAT_COMPRESSION) !== 0;
    if (h.compressionType > 1) throw bad(`unknown compression_type ${h.compressionType}`);
    if (hasCompressionBit !== (h.compressionType !== 0)) {
      throw bad("compression_type and the compression incompatible bit disagree");
    }
    if (h.incompatibleFeatures & INCOMPAT_DATA_FILE) throw bad("external data files are not supported");
    if (h.incompatibleFeatures & INCOMPAT_EXTL2) throw bad("extended L2 entries are not supported");
  }
  if (h.refcountOrder > 6) throw bad(`refcount_order ${h.refcountOrder} is larger than 6`);
  if (h.cryptMethod !== 0) throw bad("encrypted images are not supported");
  if (h.size > 2 ** 53 - cs) throw bad(`virtual size ${h.size} is too large`);

  // L1 table (spec "Cluster mapping"): large enough for the virtual size, inside limits and the file.
  const needL1 = l1EntriesFor(h.size, clusterBits);
  if (h.l1Size < needL1) throw bad(`L1 table has ${h.l1Size} entries, the virtual size needs ${needL1}`);
  if (h.l1Size * 8 > MAX_L1_BYTES) throw bad(`L1 table size ${h.l1Size} is too large`);
  checkRegion(h.l1TableOffset, h.l1Size * 8, cs, fileSize, "L1 table", h.l1Size > 0);
  // Refcount table (spec "Host cluster management").
  if (h.refcountTableClusters === 0) throw bad("refcount table is empty");
  if (h.refcountTableClusters * cs > MAX_REFTABLE_BYTES) {
    throw bad(`refcount table (${h.refcountTableClusters} clusters) is too large`);
  }
  checkRegion(h.refcountTableOffset, h.refcountTableClusters * cs, cs, fileSize, "refcount table", true);
  if (h.refcountTableOffset === 0) throw bad("refcount table overlaps the header");
  // Snapshot table (spec "Snapshots"); entries are validated when the table is read.
  if (h.nbSnapshots > MAX_SNAPSHOTS) throw bad(`too many snapshots (${h.nbSnapshots})`);
  if (h.nbSnapshots > 0)
    checkRegion(h.snapshotsOffset, 40 * h.nbSnapshots, cs, fileSize, "snapshot table", true);

  // Header extensions sit between the header and the backing file name, within the first cluster.
  const extEnd = Math.min(head.length, h.backingFileOffset > 0 ? Math.min(h.backingFileOffset, cs) : cs);
  if (h.backingFileOffset > 0) {
    if (h.backingFileSize === 0 || h.backingFileSize > MAX_BACKING_NAME) {
      throw bad(`backing file name length ${h.backingFileSize} is invalid`);
    }
    if (
      h.backingFileOffset < h.headerLength ||
      h.backingFileOffset + h.backingFileSize > Math.min(cs, head.length)
    ) {
      throw bad("backing file name lies outside the first cluster");
    }
    h.backingFile = new TextDecoder().decode(
      head.subarray(h.backingFileOffset, h.backingFileOffset + h.backingFileSize),
    );
  }
  if (h.version === 3) parseExtensions(head, h.headerLength, extEnd, h);
  return h;
}

function checkRegion(
  offset: number,
  len: number,
  cs: number,
  fileSize: number,
  what: string,
  used: boolean,
): void {
  if (!used) return;
  if (offset % cs !== 0) throw bad(`${what} offset ${offset} is not cluster-aligned`);
  if (offset + len > fileSize)
    throw bad(`${what} (offset ${offset}, ${len} bytes) lies past the end of the file`);
}

function parseExtensions(head: Uint8Array, start: number, end: number, h: Qcow2Header): void {
  let off = start;
  for (let n = 0; off + 8 <= end; n++) {
    if (n > 1024) throw bad("too many header extensions");
    const type = be32(head, off);
    const len = be32(head, off + 4);
    if (type === EXT_END) return;
    const dataEnd = off + 8 + len;
    if (dataEnd > end) throw bad(`header extension 0x${type.toString(16)} overruns the header area`);
    const data = head.slice(off + 8, dataEnd);
    if (type === EXT_BACKING_FORMAT) {
      h.backingFormat = new TextDecoder().decode(data);
    } else if (type !== EXT_FEATURE_TABLE) {
      h.otherExtensions.push({ type, data });
    }
    off = dataEnd + ((8 - (len % 8)) % 8);
  }
}

/**
 * Serialize the header, extensions and backing name into one buffer that must fit in the first cluster.
 * Sets backingFileOffset/Size in h. v2 images carry no extensions except the backing format (QEMU does
 * the same: extensions are allowed after a v2 header too).
 */
export function serializeHeader(h: Qcow2Header): Uint8Array {
  const cs = 2 ** h.clusterBits;
  const buf = new Uint8Array(cs);
  const hl = h.version === 3 ? h.headerLength : V2_HEADER_LENGTH;
  let off = hl;
  const enc = new TextEncoder();
  const putExt = (type: number, data: Uint8Array): void => {
    const padded = (data.length + 7) & ~7;
    if (off + 8 + padded + 8 > cs) throw bad("header extensions do not fit in the first cluster");
    putBe32(buf, off, type);
    putBe32(buf, off + 4, data.length);
    buf.set(data, off + 8);
    off += 8 + padded;
  };
  if (h.backingFormat) putExt(EXT_BACKING_FORMAT, enc.encode(h.backingFormat));
  if (h.version === 3) for (const e of h.otherExtensions) putExt(e.type, e.data);
  // End-of-extensions marker.
  off += 8;
  if (h.backingFile) {
    const name = enc.encode(h.backingFile);
    if (name.length > MAX_BACKING_NAME) throw bad("backing file name is too long");
    if (off + name.length > cs) throw bad("backing file name does not fit in the first cluster");
    buf.set(name, off);
    h.backingFileOffset = off;
    h.backingFileSize = name.length;
    off += name.length;
  } else {
    h.backingFileOffset = 0;
    h.backingFileSize = 0;
  }
  putBe32(buf, 0, QCOW2_MAGIC);
  putBe32(buf, 4, h.version);
  putBe64(buf, 8, h.backingFileOffset);
  putBe32(buf, 16, h.backingFileSize);
  putBe32(buf, 20, h.clusterBits);
  putBe64(buf, 24, h.size);
  putBe32(buf, 32, h.cryptMethod);
  putBe32(buf, 36, h.l1Size);
  putBe64(buf, 40, h.l1TableOffset);
  putBe64(buf, 48, h.refcountTableOffset);
  putBe32(buf, 56, h.refcountTableClusters);
  putBe32(buf, 60, h.nbSnapshots);
  putBe64(buf, 64, h.snapshotsOffset);
  if (h.version === 3) {
    putBe32(buf, 76, h.incompatibleFeatures);
    putBe32(buf, 84, h.compatibleFeatures);
    putBe32(buf, 92, h.autoclearFeatures);
    putBe32(buf, 96, h.refcountOrder);
    putBe32(buf, 100, h.headerLength);
    if (h.headerLength > V3_HEADER_LENGTH) buf[104] = h.compressionType;
  }
  return buf.subarray(0, Math.max(off, hl));
}
