/** Hostile images: mutated headers and tables must give a clean UserError, never a crash, hang or write. */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { UserError } from "../../src/base/errors.js";
import { prngUnit } from "../../src/base/testing.js";
import { createImageFile } from "../../src/storage/node/create-image.js";
import { openImageBackend } from "../../src/storage/node/open-image.js";
import { checkQcow2 } from "../../src/storage/qcow2/check.js";
import { Qcow2Image } from "../../src/storage/qcow2/image.js";
import { createSnapshot } from "../../src/storage/qcow2/snapshot-ops.js";
import {
  dataOnMetadata,
  farZeroEntry,
  l2OnRefcountTable,
  REFTABLE,
  sharedRefblock,
  snapshotsSharingL1,
} from "./crafted.js";
import { hasQemuImg, patternData, qemuImg, randomOps, tempDir, writeRaw } from "./helpers.js";

/** Byte ranges worth mutating: header, extensions, L1, refcount table and blocks, L2 tables, snapshot table. */
async function regions(path: string): Promise<[number, number][]> {
  const img = (await openImageBackend(path, { readOnly: true, noBacking: true })) as Qcow2Image;
  const out: [number, number][] = [
    [0, 112],
    [112, 512],
  ];
  const h = img.hdr;
  out.push([h.l1TableOffset, h.l1Size * 8]);
  out.push([img.refc.tableOffset, 64]);
  for (const b of img.refc.blockOffsets()) out.push([b, 256]);
  for (const o of img.l1Off) if (o) out.push([o, 1024]);
  if (h.nbSnapshots) out.push([h.snapshotsOffset, 128]);
  for (const s of img.snapshots) out.push([s.l1TableOffset, s.l1Size * 8]);
  await img.close();
  return out;
}

function mutate(orig: Uint8Array, regs: [number, number][], r: () => number): Uint8Array {
  const b = orig.slice();
  const n = 1 + Math.floor(r() * 3);
  for (let k = 0; k < n; k++) {
    const [start, len] = regs[Math.floor(r() * regs.length)]!;
    const at = start + Math.floor(r() * Math.max(1, len));
    if (at >= b.length) continue;
    const how = r();
    if (how < 0.4) b[at] = b[at]! ^ (1 << Math.floor(r() * 8));
    else if (how < 0.7) b[at] = (r() * 256) | 0;
    else if (how < 0.9) for (let i = 0; i < 8 && at + i < b.length; i++) b[at + i] = i < 2 ? 0 : 0xff;
    else for (let i = 0; i < 4 && at + i < b.length; i++) b[at + i] = (r() * 256) | 0;
  }
  if (r() < 0.08) return b.subarray(0, Math.floor(r() * b.length));
  return b;
}

function digest(p: string): string {
  return createHash("sha1").update(readFileSync(p)).digest("hex");
}

/**
 * Work a read-only open, info and check may do on a file of this size: every loop a file controls is
 * bounded by the file (L1 entries, distinct L2 tables' entries, snapshot L1 entries, clusters compared),
 * each at most size/8 steps. Counted by the image's work meter, so host load does not matter.
 */
function stepBudget(fileSize: number): number {
  return fileSize + 4096;
}

/** Run everything a user might do with a broken image; only UserErrors may escape. */
async function exercise(p: string): Promise<void> {
  const before = digest(p);
  const fileSize = statSync(p).size;
  try {
    const img = await openImageBackend(p, { readOnly: true, noBacking: true });
    try {
      const buf = new Uint8Array(Math.min(img.size, 1 << 20));
      for (let off = 0; off < img.size && off < 8 << 20; off += buf.length) {
        await img.read(off, buf.subarray(0, Math.min(buf.length, img.size - off)));
      }
      await img.info();
      if (img instanceof Qcow2Image) {
        await checkQcow2(img, "none");
        assert.ok(
          img.meter.steps <= stepBudget(fileSize),
          `${img.meter.steps} steps on a ${fileSize}-byte file`,
        );
      }
    } finally {
      await img.close();
    }
  } catch (e) {
    if (!(e instanceof UserError)) throw e;
  }
  assert.equal(digest(p), before, "a read-only open must not change the file");
  // Opening for writing: a refused open must not have written anything.
  try {
    const img = await openImageBackend(p, { noBacking: true });
    try {
      await img.write(0, new Uint8Array(4096).fill(7));
      await img.writeZeroes(65536, 65536);
    } finally {
      await img.close();
    }
  } catch (e) {
    if (!(e instanceof UserError)) throw e;
  }
}

test("fuzzed qcow2 headers and tables give clean errors", async (t) => {
  const { dir, cleanup } = tempDir();
  try {
    const seeds: string[] = [];
    // Our own image with data, a snapshot and v3 features.
    const mine = join(dir, "mine.qcow2");
    await createImageFile(mine, { format: "qcow2", size: 2 << 20, clusterSize: 4096 });
    const img = (await openImageBackend(mine)) as Qcow2Image;
    await randomOps(img, new Uint8Array(2 << 20), 5, 20);
    await createSnapshot(img, "snap");
    await randomOps(img, new Uint8Array(2 << 20), 6, 10);
    await img.close();
    seeds.push(mine);
    if (hasQemuImg) {
      writeRaw(join(dir, "d.raw"), patternData(2 << 20, 9));
      qemuImg([
        "convert",
        "-c",
        "-O",
        "qcow2",
        "-o",
        "cluster_size=4096",
        join(dir, "d.raw"),
        join(dir, "c.qcow2"),
      ]);
      qemuImg(["convert", "-O", "qcow2", "-o", "compat=0.10", join(dir, "d.raw"), join(dir, "v2.qcow2")]);
      seeds.push(join(dir, "c.qcow2"), join(dir, "v2.qcow2"));
    }
    // Hostile constructions (issue 13), each once a hang or an unsafe write; fewer mutations each.
    const crafted: string[] = [];
    const add = async (name: string, make: (p: string) => Promise<void>): Promise<void> => {
      const p = join(dir, name);
      await make(p);
      crafted.push(p);
    };
    await add("shared-refblock.qcow2", (p) => sharedRefblock(p, 64));
    await add("far-zero.qcow2", (p) => farZeroEntry(p));
    await add("far-zero-dirty.qcow2", (p) => farZeroEntry(p, true));
    await add("data-on-reftable.qcow2", (p) => dataOnMetadata(p, REFTABLE));
    await add("l2-on-reftable.qcow2", (p) => l2OnRefcountTable(p));
    await add("snapshots-share-l1.qcow2", (p) => snapshotsSharingL1(p, 512, 1024));
    const r = prngUnit(1234);
    let errors = 0;
    let runs = 0;
    for (const seed of [...seeds, ...crafted]) {
      const orig = new Uint8Array(readFileSync(seed));
      const regs = await regions(seed).catch(() => [[0, orig.length]] as [number, number][]);
      const iterations = crafted.includes(seed) ? 40 : 150;
      for (let i = 0; i < iterations; i++) {
        const p = join(dir, "fuzz.qcow2");
        writeFileSync(p, mutate(orig, regs, r));
        try {
          await exercise(p);
        } catch (e) {
          errors++;
          if (errors < 5) t.diagnostic(`iteration ${i} of ${seed}: ${(e as Error).stack}`);
        }
        runs++;
      }
      // The unmutated construction itself.
      if (crafted.includes(seed)) {
        const p = join(dir, "fuzz.qcow2");
        writeFileSync(p, orig);
        await exercise(p);
      }
    }
    assert.equal(errors, 0, `${errors} of ${runs} mutated images escaped with a non-user error`);
  } finally {
    cleanup();
  }
});

test("truncated and non-image files give one-line errors", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const p = join(dir, "t.qcow2");
    await createImageFile(p, { format: "qcow2", size: 1 << 20 });
    const full = readFileSync(p);
    for (const len of [0, 3, 50, 100, 70000, 140000]) {
      writeFileSync(p, full.subarray(0, len));
      await assert.rejects(openImageBackend(p, { format: "qcow2", readOnly: true }), (e: unknown) => {
        assert.ok(e instanceof UserError, String(e));
        assert.ok(!e.message.includes("\n"));
        return true;
      });
    }
  } finally {
    cleanup();
  }
});
