/**
 * Multi-cluster qcow2 writes: a run of new clusters is allocated together (one refcount update, contiguous
 * host clusters, one L2 write), an allocated run is rewritten in place, and runs over shared (snapshot),
 * compressed, zero and backing-file clusters still copy on write. Checked against a reference buffer, our
 * own check, and qemu-img check/compare/map.
 */
import assert from "node:assert/strict";
import { statSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { createImageFile } from "../../src/storage/node/create-image.js";
import { openImageBackend } from "../../src/storage/node/open-image.js";
import { checkQcow2 } from "../../src/storage/qcow2/check.js";
import type { Qcow2Image } from "../../src/storage/qcow2/image.js";
import { createSnapshot } from "../../src/storage/qcow2/snapshot-ops.js";
import { firstDiff, hasQemuImg, qemuImg, readAll, tempDir, writeRaw } from "./helpers.js";

const CS = 4096;
const SIZE = 8 << 20;

function fill(len: number, seed: number): Uint8Array {
  const d = new Uint8Array(len);
  for (let i = 0; i < len; i++) d[i] = (i * 31 + seed * 7 + (i >> 12)) & 0xff || 1;
  return d;
}

async function put(img: Qcow2Image, ref: Uint8Array, off: number, len: number, seed: number): Promise<void> {
  const d = fill(len, seed);
  await img.write(off, d);
  ref.set(d, off);
}

async function same(img: Qcow2Image, ref: Uint8Array, what: string): Promise<void> {
  const d = firstDiff(await readAll(img), ref);
  assert.equal(d, -1, `${what}: first difference at byte ${d}`);
  const r = await checkQcow2(img, "none");
  assert.equal(r.corruptions, 0, `${what}: ${r.messages.join("\n")}`);
  assert.equal(r.leaks, 0, `${what}: ${r.messages.join("\n")}`);
}

/** qemu-img map's data extents as [guest start, length, host offset]. */
function dataExtents(path: string): [number, number, number][] {
  const out = JSON.parse(qemuImg(["map", "--output=json", path])) as {
    start: number;
    length: number;
    data: boolean;
    offset?: number;
  }[];
  return out.filter((e) => e.data && e.offset !== undefined).map((e) => [e.start, e.length, e.offset!]);
}

test("multi-cluster writes allocate contiguous runs and keep copy-on-write semantics", async (t) => {
  const { dir, cleanup } = tempDir();
  try {
    const base = join(dir, "base.qcow2");
    const p = join(dir, "top.qcow2");
    // A backing file with data in its first 64 KiB, so runs over unallocated clusters there read through.
    await createImageFile(base, { format: "qcow2", size: SIZE, clusterSize: CS });
    const ref = new Uint8Array(SIZE);
    {
      const b = (await openImageBackend(base)) as Qcow2Image;
      await put(b, ref, 0, 65536, 1);
      await b.close();
    }
    await createImageFile(p, {
      format: "qcow2",
      size: SIZE,
      clusterSize: CS,
      backingFile: "base.qcow2",
      backingFormat: "qcow2",
    });
    let img = (await openImageBackend(p, { format: "qcow2" })) as Qcow2Image;
    // 1. A fresh run of 16 clusters past the backing data: one contiguous host extent.
    await put(img, ref, 256 << 10, 16 * CS, 2);
    // 2. Unaligned run across the backing data: partial head and tail clusters copy from the backing file.
    await put(img, ref, 1000, 10 * CS + 123, 3);
    // 3. Rewrite part of run 1 in place, reaching past it into unallocated clusters.
    await put(img, ref, (256 << 10) + 8 * CS, 12 * CS, 4);
    // 4. A run that crosses an L2 table boundary (512 entries of 8 bytes per 4 KiB table).
    await put(img, ref, 512 * CS - 3 * CS, 6 * CS, 5);
    // 5. Zeroed clusters inside a run, then written over as a whole.
    await img.writeZeroes(600 * CS, 4 * CS);
    ref.fill(0, 600 * CS, 604 * CS);
    await put(img, ref, 598 * CS, 8 * CS, 6);
    await same(img, ref, "after runs");
    // 6. Snapshot: every cluster is now shared (COPIED clear); a run over them must copy, not write in place.
    await createSnapshot(img, "s");
    const atSnap = ref.slice();
    await put(img, ref, 256 << 10, 20 * CS, 7);
    await put(img, ref, (256 << 10) - 2 * CS, 4 * CS, 12);
    await same(img, ref, "after snapshot run");
    // 7. Compressed clusters under a run are released, not overwritten.
    await img.writeCompressed(700 * CS, fill(CS, 8));
    await img.writeCompressed(701 * CS, fill(CS, 9));
    ref.set(fill(CS, 8), 700 * CS);
    ref.set(fill(CS, 9), 701 * CS);
    await put(img, ref, 699 * CS, 4 * CS, 10);
    await same(img, ref, "after compressed run");
    await img.close();

    // A clean close leaves the file whole clusters long even though data clusters were not pre-grown.
    assert.equal(statSync(p).size % CS, 0, "file length is a whole number of clusters");
    img = (await openImageBackend(p, { format: "qcow2" })) as Qcow2Image;
    await same(img, ref, "after reopen");
    await img.close();

    if (!hasQemuImg) return t.skip("qemu-img not installed: own checks only");
    qemuImg(["check", p]);
    const rawp = join(dir, "ref.raw");
    writeRaw(rawp, ref);
    qemuImg(["compare", "-f", "raw", "-F", "qcow2", rawp, p]);
    // The first run is one host extent of 16 clusters (allocated together), whatever else moved around it.
    const ext = dataExtents(p).filter(([s, l]) => s <= 256 << 10 && s + l > 256 << 10);
    assert.ok(ext.length === 1, `one extent at 256 KiB: ${JSON.stringify(ext)}`);
    // qemu applies the snapshot and sees the data as it was.
    qemuImg(["snapshot", "-a", "s", p]);
    writeRaw(rawp, atSnap);
    qemuImg(["compare", "-f", "raw", "-F", "qcow2", rawp, p]);
  } finally {
    cleanup();
  }
});

test("a run that fills fresh clusters is one refcount update and one data write", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const p = join(dir, "a.qcow2");
    await createImageFile(p, { format: "qcow2", size: SIZE, clusterSize: CS });
    const img = (await openImageBackend(p)) as Qcow2Image;
    const ref = new Uint8Array(SIZE);
    const allocsBefore = img.refc.allocations;
    await put(img, ref, 64 * CS, 32 * CS, 11);
    // One L2 table and one data run: two allocations, not 33.
    assert.equal(img.refc.allocations - allocsBefore, 2);
    const a = await img.blockStatus(64 * CS, 32 * CS);
    assert.deepEqual(a, { kind: "data", length: 32 * CS });
    await same(img, ref, "fresh run");
    await img.close();
  } finally {
    cleanup();
  }
});
