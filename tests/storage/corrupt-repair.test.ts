/**
 * The qcow2 corrupt bit (spec "incompatible_features" bit 1) and `tvisor image check -r`, matched against
 * qemu-img 7.2 by experiment: a plain check reports only real refcount errors (a consistent image with the bit
 * set is "No errors", exit 0, and stays marked); `-r leaks` and `-r all` clear the bit once the image is
 * consistent; `-r leaks` cannot fix a referenced cluster whose refcount is 0 and fails with exit 1.
 */
import assert from "node:assert/strict";
import { closeSync, openSync, readSync, writeSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { createImageFile } from "../../src/storage/node/create-image.js";
import { openImageBackend } from "../../src/storage/node/open-image.js";
import type { Qcow2Image } from "../../src/storage/qcow2/image.js";
import { hasQemuImg, qemuImg, run, tempDir } from "./helpers.js";

const TVISOR = join(import.meta.dirname, "../../src/bin/tvisor.js");
const CS = 65536;

function tvisor(...args: string[]): { status: number; out: string } {
  return run(process.execPath, [TVISOR, "image", ...args]);
}

/** Set the corrupt bit: bit 1 of the big-endian 64-bit incompatible_features field at header offset 72. */
function setCorruptBit(path: string): void {
  const fd = openSync(path, "r+");
  try {
    const b = Buffer.alloc(1);
    readSync(fd, b, 0, 1, 79);
    b[0] = (b[0] ?? 0) | 2;
    writeSync(fd, b, 0, 1, 79);
  } finally {
    closeSync(fd);
  }
}

function corruptShown(path: string): boolean {
  const r = tvisor("info", path);
  assert.equal(r.status, 0, r.out);
  const m = /corrupt: (true|false)/.exec(r.out);
  assert.ok(m, r.out);
  return m[1] === "true";
}

/** A 4 MiB v3 image with its first cluster written; with zeroRefcount, that data cluster's refcount is 0. */
async function makeImage(path: string, zeroRefcount: boolean): Promise<void> {
  await createImageFile(path, { format: "qcow2", size: 4 << 20 });
  const img = (await openImageBackend(path)) as Qcow2Image;
  await img.write(0, new Uint8Array(CS).fill(0x5a));
  await img.close();
  if (zeroRefcount) {
    const map = JSON.parse(qemuImg(["map", "--output=json", path])) as { data: boolean; offset?: number }[];
    const host = map.find((e) => e.data)?.offset;
    assert.ok(host !== undefined);
    const w = (await openImageBackend(path)) as Qcow2Image;
    await w.refc.set(host / CS, 0);
    await w.close();
  }
  setCorruptBit(path);
}

async function assertWritable(path: string): Promise<void> {
  const img = await openImageBackend(path);
  await img.write(CS, new Uint8Array(CS).fill(7));
  const back = new Uint8Array(CS);
  await img.read(0, back);
  assert.equal(back[100], 0x5a);
  await img.close();
  qemuImg(["check", path]);
}

test("a consistent image with the corrupt bit: plain check is clean, -r leaks / -r all clear the bit", async (t) => {
  if (!hasQemuImg) return t.skip("qemu-img not installed");
  const { dir, cleanup } = tempDir();
  try {
    const p = join(dir, "c.qcow2");
    await makeImage(p, false);
    assert.equal(corruptShown(p), true);
    await assert.rejects(openImageBackend(p), /marked corrupt.*check -r all/);

    // qemu-img check (no -r) on such an image: "No errors were found", exit 0, the bit stays.
    const q = qemuImg(["check", p]);
    const plain = tvisor("check", p);
    assert.equal(plain.status, 0, plain.out);
    assert.match(plain.out, /No errors were found on the image/);
    assert.match(q, /No errors were found on the image/);
    assert.equal(corruptShown(p), true);

    for (const mode of ["leaks", "all"]) {
      const m = join(dir, `${mode}.qcow2`);
      await makeImage(m, false);
      const r = tvisor("check", "-r", mode, m);
      assert.equal(r.status, 0, r.out);
      assert.match(r.out, /No errors were found on the image/);
      assert.equal(corruptShown(m), false, `-r ${mode}`);
      assert.doesNotMatch(qemuImg(["info", m]), /corrupt: true/);
      await assertWritable(m);
    }
  } finally {
    cleanup();
  }
});

test("a corrupt-marked image with a zero refcount: check reports it, -r leaks fails, -r all repairs", async (t) => {
  if (!hasQemuImg) return t.skip("qemu-img not installed");
  const { dir, cleanup } = tempDir();
  try {
    const p = join(dir, "z.qcow2");
    await makeImage(p, true);

    const q = run("qemu-img", ["check", p]);
    const plain = tvisor("check", p);
    assert.equal(q.status, 2, q.out);
    assert.equal(plain.status, q.status, plain.out);
    assert.match(plain.out, /errors were found on the image/);
    assert.match(plain.out, /ERROR cluster \d+ refcount=0 reference=1/);

    // -r leaks may not rebuild refcounts: qemu-img exits 1 ("Check failed") and leaves the image as it was.
    const ql = join(dir, "ql.qcow2");
    await makeImage(ql, true);
    assert.equal(run("qemu-img", ["check", "-r", "leaks", ql]).status, 1);
    const leaks = tvisor("check", "-r", "leaks", p);
    assert.equal(leaks.status, 1, leaks.out);
    assert.match(leaks.out, /need to rebuild refcount structures/);
    assert.match(leaks.out, /check failed/);
    assert.equal(corruptShown(p), true);

    const all = tvisor("check", "-r", "all", p);
    assert.equal(all.status, 0, all.out);
    assert.match(all.out, /found and repaired/);
    assert.match(all.out, /1 corruptions/);
    assert.match(all.out, /No errors were found on the image/);
    assert.equal(corruptShown(p), false);
    assert.doesNotMatch(qemuImg(["info", p]), /corrupt: true/);
    qemuImg(["check", p]);
    await assertWritable(p);
  } finally {
    cleanup();
  }
});
