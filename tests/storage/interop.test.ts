/** Interop with qemu-img 7.2: its images read back byte-identical, and ours pass `qemu-img check` and `compare`. */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { convertImage } from "../../src/storage/convert.js";
import { createImageFile } from "../../src/storage/node/create-image.js";
import { openImageBackend } from "../../src/storage/node/open-image.js";
import { checkQcow2 } from "../../src/storage/qcow2/check.js";
import type { Qcow2Image } from "../../src/storage/qcow2/image.js";
import { applySnapshot, createSnapshot, deleteSnapshot } from "../../src/storage/qcow2/snapshot-ops.js";
import {
  firstDiff,
  hasQemuImg,
  hasQemuIo,
  patternData,
  qemuImg,
  randomOps,
  readAll,
  run,
  tempDir,
  writeRaw,
} from "./helpers.js";

const SIZE = 4 << 20;

async function readImage(path: string, format?: string): Promise<Uint8Array> {
  const img = await openImageBackend(path, { readOnly: true, format });
  try {
    return await readAll(img);
  } finally {
    await img.close();
  }
}

function assertSame(a: Uint8Array, b: Uint8Array, what: string): void {
  const d = firstDiff(a, b);
  assert.equal(d, -1, `${what}: first difference at byte ${d}`);
}

test("qemu-img images read back byte-identical (v2, v3, compressed zlib/zstd, cluster sizes)", async (t) => {
  if (!hasQemuImg) return t.skip("qemu-img not installed");
  const { dir, cleanup } = tempDir();
  try {
    const data = patternData(SIZE, 1);
    const raw = join(dir, "src.raw");
    writeRaw(raw, data);
    const variants: [string, string[]][] = [
      ["v3", ["-o", "compat=1.1"]],
      ["v2", ["-o", "compat=0.10"]],
      ["v2c", ["-c", "-o", "compat=0.10,cluster_size=4096"]],
      ["zlib", ["-c"]],
      ["zstd", ["-c", "-o", "compression_type=zstd"]],
      ["c512", ["-o", "cluster_size=512"]],
      ["c2m", ["-c", "-o", "cluster_size=2M"]],
      ["rc1", ["-o", "refcount_bits=1"]],
      ["rc64", ["-o", "refcount_bits=64,cluster_size=4096"]],
    ];
    for (const [name, args] of variants) {
      const p = join(dir, `${name}.qcow2`);
      qemuImg(["convert", "-O", "qcow2", ...args, raw, p]);
      assertSame(await readImage(p), data, name);
    }
  } finally {
    cleanup();
  }
});

test("qemu-img backing chains (relative names, stated format) and internal snapshots read correctly", async (t) => {
  if (!hasQemuImg || !hasQemuIo) return t.skip("qemu-img not installed");
  const { dir, cleanup } = tempDir();
  try {
    const d1 = patternData(SIZE, 2);
    const d2 = patternData(SIZE, 3);
    const d3 = patternData(SIZE, 4);
    writeRaw(join(dir, "d1.raw"), d1);
    writeRaw(join(dir, "d2.raw"), d2);
    writeRaw(join(dir, "d3.raw"), d3);
    // base <- mid <- top, each holding only what differs from its backing (convert -B).
    qemuImg(["convert", "-O", "qcow2", join(dir, "d1.raw"), join(dir, "base.qcow2")]);
    run("qemu-img", [
      "convert",
      "-O",
      "qcow2",
      "-B",
      "base.qcow2",
      "-F",
      "qcow2",
      join(dir, "d2.raw"),
      join(dir, "mid.qcow2"),
    ]);
    const r = run("sh", [
      "-c",
      `cd ${dir} && qemu-img convert -O qcow2 -B mid.qcow2 -F qcow2 d3.raw top.qcow2`,
    ]);
    assert.equal(r.status, 0, r.out);
    const info = JSON.parse(qemuImg(["info", "--output=json", join(dir, "top.qcow2")])) as Record<
      string,
      unknown
    >;
    assert.equal(info["backing-filename"], "mid.qcow2");
    assertSame(await readImage(join(dir, "top.qcow2"), "qcow2"), d3, "top of chain");
    assertSame(await readImage(join(dir, "mid.qcow2"), "qcow2"), d2, "middle of chain");

    // Snapshots made by qemu: s1 holds d1, then qemu-io rewrites part of the disk.
    const snap = join(dir, "snap.qcow2");
    qemuImg(["convert", "-O", "qcow2", join(dir, "d1.raw"), snap]);
    qemuImg(["snapshot", "-c", "s1", snap]);
    assert.equal(
      run("qemu-io", ["-c", "write -P 0xab 65536 200000", "-c", "discard 1048576 65536", snap]).status,
      0,
    );
    const expect = d1.slice();
    expect.fill(0xab, 65536, 65536 + 200000);
    expect.fill(0, 1048576, 1048576 + 65536);
    assertSame(await readImage(snap), expect, "active state after qemu-io");
    const img = (await openImageBackend(snap)) as Qcow2Image;
    assert.deepEqual(
      img.listSnapshots().map((s) => s.name),
      ["s1"],
    );
    await applySnapshot(img, "s1");
    assertSame(await readAll(img), d1, "after applying qemu's snapshot");
    await img.close();
    qemuImg(["check", snap]);
  } finally {
    cleanup();
  }
});

const CONFIGS: { name: string; opts: Parameters<typeof createImageFile>[1] }[] = [
  { name: "v3-64k", opts: { format: "qcow2" } },
  { name: "v2-64k", opts: { format: "qcow2", version: 2 } },
  { name: "v3-512-rc1", opts: { format: "qcow2", clusterSize: 512, refcountBits: 1 } },
  { name: "v3-4k-rc2", opts: { format: "qcow2", clusterSize: 4096, refcountBits: 2 } },
  { name: "v3-1k-rc4", opts: { format: "qcow2", clusterSize: 1024, refcountBits: 4 } },
  { name: "v3-4k-rc8", opts: { format: "qcow2", clusterSize: 4096, refcountBits: 8 } },
  { name: "v3-8k-rc32", opts: { format: "qcow2", clusterSize: 8192, refcountBits: 32 } },
  { name: "v3-512-rc64", opts: { format: "qcow2", clusterSize: 512, refcountBits: 64 } },
  { name: "v3-2m", opts: { format: "qcow2", clusterSize: 2 << 20 } },
];

test("images tvisor writes pass qemu-img check and compare (every refcount width, v2 and v3)", async (t) => {
  if (!hasQemuImg) return t.skip("qemu-img not installed");
  const { dir, cleanup } = tempDir();
  try {
    for (const [i, c] of CONFIGS.entries()) {
      const t0 = Date.now();
      const p = join(dir, `${c.name}.qcow2`);
      await createImageFile(p, { ...c.opts, size: SIZE });
      const ref = new Uint8Array(SIZE);
      const img = await openImageBackend(p);
      await randomOps(img, ref, 100 + i, 60);
      assertSame(await readAll(img), ref, `${c.name} own read-back`);
      await img.close();
      qemuImg(["check", p]);
      const rawp = join(dir, `${c.name}.raw`);
      writeRaw(rawp, ref);
      qemuImg(["compare", "-f", "raw", "-F", "qcow2", rawp, p]);
      t.diagnostic(`${c.name}: ${Date.now() - t0} ms`);
    }
  } finally {
    cleanup();
  }
});

test("tvisor snapshots: create, write, apply, delete keep refcounts right; qemu-img agrees", async (t) => {
  if (!hasQemuImg) return t.skip("qemu-img not installed");
  const { dir, cleanup } = tempDir();
  try {
    // Not refcount_bits=2: qemu itself cannot apply a snapshot once refcounts would pass 3.
    for (const c of [CONFIGS[0]!, CONFIGS[1]!, CONFIGS[4]!]) {
      const p = join(dir, `${c.name}.qcow2`);
      await createImageFile(p, { ...c.opts, size: SIZE });
      const ref = new Uint8Array(SIZE);
      let img = (await openImageBackend(p)) as Qcow2Image;
      await randomOps(img, ref, 7, 30);
      await createSnapshot(img, "one");
      const atOne = ref.slice();
      await randomOps(img, ref, 8, 30);
      await createSnapshot(img, "two");
      const atTwo = ref.slice();
      await randomOps(img, ref, 9, 30);
      await img.close();
      qemuImg(["check", p]);
      assert.match(qemuImg(["snapshot", "-l", p]), /one[\s\S]*two/);
      // qemu applies our snapshot.
      qemuImg(["snapshot", "-a", "one", p]);
      writeRaw(join(dir, "one.raw"), atOne);
      qemuImg(["compare", "-f", "raw", "-F", "qcow2", join(dir, "one.raw"), p]);
      // We apply ours and delete the other.
      img = (await openImageBackend(p)) as Qcow2Image;
      await applySnapshot(img, "two");
      assertSame(await readAll(img), atTwo, `${c.name} apply two`);
      await deleteSnapshot(img, "one");
      await randomOps(img, atTwo, 10, 20);
      const r = await checkQcow2(img, "none");
      assert.equal(r.corruptions, 0, r.messages.join("\n"));
      assert.equal(r.leaks, 0, r.messages.join("\n"));
      await deleteSnapshot(img, "two");
      await img.close();
      qemuImg(["check", p]);
      writeRaw(join(dir, "two.raw"), atTwo);
      qemuImg(["compare", "-f", "raw", "-F", "qcow2", join(dir, "two.raw"), p]);
    }
  } finally {
    cleanup();
  }
});

test("tvisor backing chains, convert -c, resize and rebase pass qemu-img", async (t) => {
  if (!hasQemuImg) return t.skip("qemu-img not installed");
  const { dir, cleanup } = tempDir();
  try {
    const base = patternData(SIZE, 11);
    writeRaw(join(dir, "base.raw"), base);
    qemuImg(["convert", "-O", "qcow2", join(dir, "base.raw"), join(dir, "base.qcow2")]);
    await createImageFile(join(dir, "ov.qcow2"), {
      format: "qcow2",
      backingFile: "base.qcow2",
      backingFormat: "qcow2",
    });
    const ref = base.slice();
    const ov = await openImageBackend(join(dir, "ov.qcow2"), { format: "qcow2" });
    await randomOps(ov, ref, 12, 40);
    await ov.close();
    qemuImg(["check", join(dir, "ov.qcow2")]);
    writeRaw(join(dir, "ov.raw"), ref);
    qemuImg(["compare", "-f", "raw", join(dir, "ov.raw"), join(dir, "ov.qcow2")]);
    const info = JSON.parse(qemuImg(["info", "--output=json", join(dir, "ov.qcow2")])) as Record<
      string,
      unknown
    >;
    assert.equal(info["backing-filename"], "base.qcow2");
    assert.equal(info["backing-filename-format"], "qcow2");

    // convert -c from our overlay (flattening the chain).
    const src = await openImageBackend(join(dir, "ov.qcow2"), { readOnly: true, format: "qcow2" });
    await createImageFile(join(dir, "c.qcow2"), { format: "qcow2", size: SIZE });
    const dst = await openImageBackend(join(dir, "c.qcow2"));
    await convertImage(src, dst, { compress: true });
    await src.close();
    await dst.close();
    const chk = qemuImg(["check", join(dir, "c.qcow2")]);
    assert.match(chk, /compressed clusters/);
    assert.doesNotMatch(chk, / 0\.00% compressed/);
    qemuImg(["compare", join(dir, "ov.raw"), join(dir, "c.qcow2")]);

    // Safe rebase onto nothing: the overlay becomes standalone with the same contents.
    const r = run(process.execPath, [
      join(import.meta.dirname, "../../src/bin/tvisor.js"),
      "image",
      "rebase",
      "-f",
      "qcow2",
      "-b",
      "",
      join(dir, "ov.qcow2"),
    ]);
    assert.equal(r.status, 0, r.out);
    qemuImg(["check", join(dir, "ov.qcow2")]);
    qemuImg(["compare", "-f", "raw", join(dir, "ov.raw"), join(dir, "ov.qcow2")]);
    assert.equal(
      JSON.parse(qemuImg(["info", "--output=json", join(dir, "ov.qcow2")]))["backing-filename"],
      undefined,
    );

    // Resize grow past the L1 table, then shrink.
    const img = (await openImageBackend(join(dir, "c.qcow2"))) as Qcow2Image;
    await img.resize(SIZE * 1024, false);
    await img.write(SIZE * 1024 - 4096, new Uint8Array(4096).fill(9));
    await img.resize(SIZE, true);
    await img.close();
    qemuImg(["check", join(dir, "c.qcow2")]);
    qemuImg(["compare", join(dir, "ov.raw"), join(dir, "c.qcow2")]);
  } finally {
    cleanup();
  }
});

test("VMDK, VDI and VHD (fixed and dynamic) made by qemu-img import through convert", async (t) => {
  if (!hasQemuImg) return t.skip("qemu-img not installed");
  const { dir, cleanup } = tempDir();
  try {
    const data = patternData(SIZE, 21);
    const raw = join(dir, "src.raw");
    writeRaw(raw, data);
    for (const [fmt, opts] of [
      ["vmdk", []],
      ["vdi", []],
      ["vpc", []],
      ["vpc", ["-o", "subformat=fixed"]],
    ] as [string, string[]][]) {
      const p = join(dir, `img.${fmt}`);
      qemuImg(["convert", "-O", fmt, ...opts, raw, p]);
      // qemu's own view of the image is the reference (VHD rounds the size to CHS geometry).
      qemuImg(["convert", "-f", fmt, "-O", "raw", p, join(dir, "back.raw")]);
      const expect = new Uint8Array(readFileSync(join(dir, "back.raw")));
      const img = await openImageBackend(p, { readOnly: true });
      assert.equal(img.format, fmt);
      assertSame(await readAll(img), expect, `${fmt} ${opts.join(" ")}`);
      await img.close();
    }
  } finally {
    cleanup();
  }
});

test("check reports and repairs leaks like qemu-img", async (t) => {
  if (!hasQemuImg) return t.skip("qemu-img not installed");
  const { dir, cleanup } = tempDir();
  try {
    const p = join(dir, "leak.qcow2");
    await createImageFile(p, { format: "qcow2", size: SIZE });
    const img = (await openImageBackend(p)) as Qcow2Image;
    await img.write(0, new Uint8Array(65536).fill(1));
    // Leak two clusters: allocate them and never reference them.
    await img.refc.allocate(2);
    await img.close();
    const q = run("qemu-img", ["check", p]);
    assert.equal(q.status, 3, q.out);
    assert.match(q.out, /2 leaked clusters/);
    const mine = run(process.execPath, [
      join(import.meta.dirname, "../../src/bin/tvisor.js"),
      "image",
      "check",
      p,
    ]);
    assert.equal(mine.status, 3, mine.out);
    assert.match(mine.out, /2 leaked clusters were found/);
    const fix = run(process.execPath, [
      join(import.meta.dirname, "../../src/bin/tvisor.js"),
      "image",
      "check",
      "-r",
      "leaks",
      p,
    ]);
    assert.equal(fix.status, 0, fix.out);
    qemuImg(["check", p]);
    writeFileSync(join(dir, "x"), "");
  } finally {
    cleanup();
  }
});
