/**
 * Where qcow2 metadata lives, for overlap checks before every write (QEMU's qcow2_check_metadata_overlap,
 * docs/interop/qcow2.txt and QEMU's "overlap-check" option). tvisor checks what QEMU's default ("cached")
 * mode checks — header, active L1, active L2, refcount table, refcount blocks, snapshot table, inactive L1
 * — and inactive L2 tables as well, which QEMU leaves to its "all" mode. A write of one kind of metadata
 * ignores only its own kind; a guest data write ignores nothing.
 */

export const META_HEADER = 1;
export const META_ACTIVE_L1 = 2;
export const META_ACTIVE_L2 = 4;
export const META_REFTABLE = 8;
export const META_REFBLOCK = 16;
export const META_SNAPSHOT_TABLE = 32;
export const META_INACTIVE_L1 = 64;
export const META_INACTIVE_L2 = 128;
/** A guest data write: every kind of metadata counts. */
export const META_NONE = 0;

const NAMES: [number, string][] = [
  [META_HEADER, "the header"],
  [META_ACTIVE_L1, "the active L1 table"],
  [META_ACTIVE_L2, "an active L2 table"],
  [META_REFTABLE, "the refcount table"],
  [META_REFBLOCK, "a refcount block"],
  [META_SNAPSHOT_TABLE, "the snapshot table"],
  [META_INACTIVE_L1, "a snapshot's L1 table"],
  [META_INACTIVE_L2, "a snapshot's L2 table"],
];

export function metaName(kinds: number): string {
  return NAMES.filter(([k]) => kinds & k)
    .map(([, n]) => n)
    .join(" and ");
}

/**
 * Metadata kinds per host cluster. Every structure recorded lies inside the file (checked at open and when
 * allocated), so the map holds at most one entry per cluster of the file.
 */
export class MetadataMap {
  private readonly kinds = new Map<number, number>();

  constructor(private readonly clusterSize: number) {}

  clear(): void {
    this.kinds.clear();
  }

  /** Record kind over the clusters of [offset, offset+length). */
  add(kind: number, offset: number, length: number): void {
    if (length <= 0) return;
    const cs = this.clusterSize;
    for (let c = Math.floor(offset / cs); c * cs < offset + length; c++) {
      this.kinds.set(c, (this.kinds.get(c) ?? 0) | kind);
    }
  }

  /** Forget kind over the clusters of [offset, offset+length) (a table moved or was freed). */
  remove(kind: number, offset: number, length: number): void {
    if (length <= 0) return;
    const cs = this.clusterSize;
    for (let c = Math.floor(offset / cs); c * cs < offset + length; c++) {
      const k = (this.kinds.get(c) ?? 0) & ~kind;
      if (k === 0) this.kinds.delete(c);
      else this.kinds.set(c, k);
    }
  }

  /** The kinds other than those in `ignore` found in [offset, offset+length); 0 when the write is safe. */
  overlaps(ignore: number, offset: number, length: number): number {
    if (length <= 0 || this.kinds.size === 0) return 0;
    const cs = this.clusterSize;
    let hit = 0;
    for (let c = Math.floor(offset / cs); c * cs < offset + length; c++) {
      hit |= (this.kinds.get(c) ?? 0) & ~ignore;
    }
    return hit;
  }

  /** Kinds recorded for one cluster. */
  at(cluster: number): number {
    return this.kinds.get(cluster) ?? 0;
  }
}
