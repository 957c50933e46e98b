/** The qcow2 snapshot table: parse and serialize snapshot headers (qcow2 spec, "Snapshots"). */
import { ImageFormatError } from "../../base/errors.js";
import { be16, be32, be64, putBe16, putBe32, putBe64 } from "../bytes.js";
import { MAX_L1_BYTES } from "./header.js";

export interface Qcow2Snapshot {
  l1TableOffset: number;
  l1Size: number;
  id: string;
  name: string;
  dateSec: number;
  dateNsec: number;
  vmClockNsec: number;
  vmStateSize: number;
  /** From extra data (v3 requires at least the first 16 bytes): disk size at snapshot time, and icount. */
  diskSize: number | null;
  icount: number | null;
  /** Extra data bytes beyond the fields we know, kept on rewrite. */
  extraTail: Uint8Array;
}

/** QEMU caps extra data at 1 KiB and the whole table at 64 MiB (block/qcow2.h). */
const MAX_EXTRA_DATA = 1024;
export const MAX_SNAPSHOT_TABLE_BYTES = 64 << 20;

function bad(msg: string): ImageFormatError {
  return new ImageFormatError(`qcow2: snapshot table: ${msg}`);
}

/** Parse nb entries from buf (which holds the table and maybe more); returns entries and the bytes used. */
export function parseSnapshotTable(
  buf: Uint8Array,
  nb: number,
  clusterSize: number,
  fileSize: number,
  version: number,
): { snapshots: Qcow2Snapshot[]; length: number } {
  const out: Qcow2Snapshot[] = [];
  let off = 0;
  const dec = new TextDecoder();
  for (let i = 0; i < nb; i++) {
    if (off + 40 > buf.length) throw bad(`entry ${i} lies past the end of the table`);
    const l1TableOffset = be64(buf, off, "snapshot L1 offset", bad);
    const l1Size = be32(buf, off + 8);
    const idLen = be16(buf, off + 12);
    const nameLen = be16(buf, off + 14);
    const extraLen = be32(buf, off + 36);
    if (extraLen > MAX_EXTRA_DATA) throw bad(`entry ${i} has ${extraLen} bytes of extra data`);
    if (version >= 3 && extraLen < 16) throw bad(`entry ${i} lacks the extra data version 3 requires`);
    const end = off + 40 + extraLen + idLen + nameLen;
    if (end > buf.length) throw bad(`entry ${i} lies past the end of the table`);
    if (l1Size * 8 > MAX_L1_BYTES) throw bad(`entry ${i} has an L1 table of ${l1Size} entries`);
    if (l1TableOffset % clusterSize !== 0 || l1TableOffset + l1Size * 8 > fileSize) {
      throw bad(`entry ${i} L1 table (offset ${l1TableOffset}) is misaligned or past the end of the file`);
    }
    const e = off + 40;
    const snap: Qcow2Snapshot = {
      l1TableOffset,
      l1Size,
      dateSec: be32(buf, off + 16),
      dateNsec: be32(buf, off + 20),
      vmClockNsec: be64(buf, off + 24, "vm_clock_nsec", bad),
      vmStateSize: be32(buf, off + 32),
      diskSize: null,
      icount: null,
      extraTail: new Uint8Array(0),
      id: dec.decode(buf.subarray(e + extraLen, e + extraLen + idLen)),
      name: dec.decode(buf.subarray(e + extraLen + idLen, end)),
    };
    if (extraLen >= 8) {
      const large = be64(buf, e, "vm_state_size_large", bad);
      if (large > 0) snap.vmStateSize = large;
    }
    if (extraLen >= 16) snap.diskSize = be64(buf, e + 8, "disk_size", bad);
    if (extraLen >= 24) {
      // icount is -1 (all ones) when not recorded.
      const hi = be32(buf, e + 16);
      snap.icount = hi === 0xffffffff ? -1 : be64(buf, e + 16, "icount", bad);
    }
    if (extraLen > 24) snap.extraTail = buf.slice(e + 24, e + extraLen);
    out.push(snap);
    off = (end + 7) & ~7;
  }
  return { snapshots: out, length: off };
}

/** Serialize the table as QEMU 7.2 does: 24 bytes of extra data per entry, each entry padded to 8. */
export function serializeSnapshotTable(snaps: Qcow2Snapshot[]): Uint8Array {
  const enc = new TextEncoder();
  const parts: Uint8Array[] = [];
  let total = 0;
  for (const s of snaps) {
    const id = enc.encode(s.id);
    const name = enc.encode(s.name);
    const extraLen = 24 + s.extraTail.length;
    const len = (40 + extraLen + id.length + name.length + 7) & ~7;
    const b = new Uint8Array(len);
    putBe64(b, 0, s.l1TableOffset);
    putBe32(b, 8, s.l1Size);
    putBe16(b, 12, id.length);
    putBe16(b, 14, name.length);
    putBe32(b, 16, s.dateSec);
    putBe32(b, 20, s.dateNsec);
    putBe64(b, 24, s.vmClockNsec);
    putBe32(b, 32, s.vmStateSize > 0xffffffff ? 0 : s.vmStateSize);
    putBe32(b, 36, extraLen);
    putBe64(b, 40, s.vmStateSize);
    putBe64(b, 48, s.diskSize ?? 0);
    if (s.icount === null || s.icount < 0) {
      putBe32(b, 56, 0xffffffff);
      putBe32(b, 60, 0xffffffff);
    } else {
      putBe64(b, 56, s.icount);
    }
    b.set(s.extraTail, 64);
    b.set(id, 40 + extraLen);
    b.set(name, 40 + extraLen + id.length);
    parts.push(b);
    total += len;
  }
  if (total > MAX_SNAPSHOT_TABLE_BYTES) throw bad("table would exceed 64 MiB");
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
