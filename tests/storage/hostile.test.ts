/**
 * Regression tests for hostile disk images and guest writes (issue 13): a guest may not turn its raw disk
 * into an image that reads host files; crafted files cost work bounded by their size (counted, not timed);
 * metadata overlaps mark the image corrupt instead of writing; failed commands destroy nothing.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { ImageFormatError, UserError } from "../../src/base/errors.js";
import { copyDifferences } from "../../src/cli/image/rebase.js";
import { convertImage } from "../../src/storage/convert.js";
import type { FileHandle, StorageHost } from "../../src/storage/file-handle.js";
import type { ImageBackend } from "../../src/storage/image-backend.js";
import { createImageFile } from "../../src/storage/node/create-image.js";
import { nodeStorageHost } from "../../src/storage/node/node-host.js";
import { openImage, openImageBackend, probeImageFile } from "../../src/storage/node/open-image.js";
import { openImageOn, ProbedBackingError } from "../../src/storage/open.js";
import { checkQcow2 } from "../../src/storage/qcow2/check.js";
import type { Qcow2Image } from "../../src/storage/qcow2/image.js";
import { createSnapshot } from "../../src/storage/qcow2/snapshot-ops.js";
import { ProbeGuardError, RawImage } from "../../src/storage/raw-image.js";
import {
  be32,
  CS,
  dataOnMetadata,
  farZeroEntry,
  L1,
  l2OnRefcountTable,
  REFBLOCK,
  REFTABLE,
  sharedRefblock,
  snapshotsSharingL1,
} from "./crafted.js";
import { tempDir } from "./helpers.js";

const TVISOR = join(import.meta.dirname, "../../src/bin/tvisor.js");

function tvisor(args: string[]): { status: number; out: string } {
  const r = spawnSync(process.execPath, [TVISOR, "image", ...args], { encoding: "utf8" });
  return { status: r.status ?? -1, out: `${r.stdout ?? ""}${r.stderr ?? ""}` };
}

/** A StorageHost that counts the reads and bytes read through it. */
function countingHost(): { host: StorageHost; reads: () => number; bytes: () => number } {
  let reads = 0;
  let bytes = 0;
  const wrap = (f: FileHandle): FileHandle => ({
    path: f.path,
    async read(pos, buf) {
      reads++;
      bytes += buf.length;
      return f.read(pos, buf);
    },
    write: (pos, data) => f.write(pos, data),
    size: () => f.size(),
    truncate: (n) => f.truncate(n),
    sync: () => f.sync(),
    allocatedBytes: () => f.allocatedBytes(),
    close: () => f.close(),
  });
  const host: StorageHost = {
    open: async (p, w) => wrap(await nodeStorageHost.open(p, w)),
    create: async (p) => wrap(await nodeStorageHost.create(p)),
    resolveRelative: nodeStorageHost.resolveRelative,
    deflate: nodeStorageHost.deflate,
  };
  return { host, reads: () => reads, bytes: () => bytes };
}

/** The bytes of a small qcow2 image (512-byte clusters) whose backing file is `backing`, read as raw. */
async function qcow2Naming(dir: string, backing: string): Promise<Uint8Array> {
  const p = join(dir, "evil.qcow2");
  await createImageFile(p, {
    format: "qcow2",
    size: 1 << 20,
    clusterSize: CS,
    backingFile: backing,
    backingFormat: "raw",
  });
  return new Uint8Array(readFileSync(p));
}

test("a probed raw disk refuses guest writes that would make it probe as another format", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const secret = join(dir, "secret.txt");
    writeFileSync(secret, "TOP-SECRET ".repeat(400));
    const disk = join(dir, "disk.img");
    writeFileSync(disk, new Uint8Array(1 << 20));
    const evil = await qcow2Naming(dir, secret);
    const probed: string[] = [];
    const warnings: string[] = [];
    const img = await openImage(disk, {
      onProbed: (_p, f) => probed.push(f),
      onWarning: (m) => warnings.push(m),
    });
    assert.ok(img instanceof RawImage);
    assert.equal(img.formatProbed, true);
    assert.deepEqual(probed, ["raw"]);
    const sig = (at: number, bytes: number[]): Uint8Array => {
      const b = new Uint8Array(512);
      b.set(bytes, at);
      return b;
    };
    const refused = async (off: number, data: Uint8Array, fmt: string): Promise<void> => {
      await assert.rejects(img.write(off, data), (e: unknown) => {
        assert.ok(e instanceof ProbeGuardError, String(e));
        assert.equal(e.wouldProbeAs, fmt);
        return true;
      });
    };
    // Every signature the probe knows, whole-sector and unaligned, and a write straddling sector 0's end.
    await refused(0, evil.subarray(0, 4096), "qcow2");
    await refused(0, new Uint8Array([0x51, 0x46, 0x49, 0xfb]), "qcow2");
    await refused(0, sig(0, [0x4b, 0x44, 0x4d, 0x56]), "vmdk");
    await refused(0, sig(0x40, [0x7f, 0x10, 0xda, 0xbe]), "vdi");
    await refused(0, sig(0, [...new TextEncoder().encode("conectix")]), "vpc");
    await refused((1 << 20) - 512, sig(0, [...new TextEncoder().encode("conectix")]), "vpc");
    await refused(
      (1 << 20) - 516,
      new Uint8Array([0, 0, 0, 0, ...new TextEncoder().encode("conectix")]),
      "vpc",
    );
    // Built from two writes, each harmless alone: the second is judged against what the first left.
    await img.write(0, new Uint8Array([0x51, 0x46]));
    await refused(2, new Uint8Array([0x49, 0xfb]), "qcow2");
    await img.writeZeroes(0, 512);
    // Ordinary sector-0 contents (an MBR) and zeroing are fine.
    const mbr = new Uint8Array(512);
    mbr[510] = 0x55;
    mbr[511] = 0xaa;
    await img.write(0, mbr);
    await img.discard(0, 4096);
    await img.write(4096, evil.subarray(0, 512)); // a signature elsewhere is not probed
    assert.equal(warnings.length, 1, "the refusal is reported once");
    assert.match(warnings[0]!, /probe as qcow2/);
    await img.close();
    // Nothing of it reached the file, and the next probing open still sees raw.
    assert.equal(await probeImageFile(disk), "raw");
    assert.equal(readFileSync(disk).subarray(0, 4).readUInt32BE(0), 0);

    // Given explicitly as raw, the guest may write anything.
    const explicit = await openImage(disk, { format: "raw" });
    assert.equal(explicit.formatProbed, false);
    await explicit.write(0, evil);
    await explicit.close();
    // Now the header is there (as if written by another hypervisor given format=raw): a probing open
    // sees qcow2 but may not follow the backing file it names; an explicit raw open reads the bytes.
    await assert.rejects(openImage(disk), (e: unknown) => {
      assert.ok(e instanceof ProbedBackingError, String(e));
      assert.match(e.message, /give the format explicitly \(qcow2\)/);
      return true;
    });
    await assert.rejects(openImageBackend(disk, { readOnly: true }), ProbedBackingError);
    const counted = countingHost();
    await assert.rejects(openImageOn(counted.host, disk, {}), ProbedBackingError);
    // The probe-then-refuse path never opened the secret: only the disk was read.
    const raw = await openImage(disk, { format: "raw", readOnly: true });
    const b = new Uint8Array(8192);
    await raw.read(0, b);
    assert.ok(!Buffer.from(b).toString("latin1").includes("TOP-SECRET"));
    await raw.close();
    // A probed chain link may not open backing files of its own either: an overlay the user trusts
    // (explicit qcow2, no backing format recorded) over this disk stops at the disk.
    const top = join(dir, "top.qcow2");
    await createImageFile(top, { format: "qcow2", size: 1 << 20 });
    const t = (await openImageBackend(top, { format: "qcow2", noBacking: true })) as Qcow2Image;
    await t.setBackingName(disk, null);
    await t.close();
    await assert.rejects(openImage(top, { format: "qcow2" }), ProbedBackingError);
  } finally {
    cleanup();
  }
});

test("the refcount table naming one block filled with 1s: a write scans clusters bounded by the file", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const p = join(dir, "shared.qcow2");
    await sharedRefblock(p);
    const fileClusters = statSync(p).size / CS;
    const img = (await openImageBackend(p, { format: "qcow2" })) as Qcow2Image;
    // The table claims this many clusters are in use; the old search visited them one by one.
    assert.ok(img.refc.tableEntries() * img.refc.blockEntries > 8_000_000);
    const before = img.meter.steps;
    await img.write(0, new Uint8Array(4096).fill(3));
    await img.write(1 << 19, new Uint8Array(512).fill(4));
    const steps = img.meter.steps - before;
    assert.ok(steps <= 4 * fileClusters, `${steps} steps for a ${fileClusters}-cluster file`);
    const back = new Uint8Array(4096);
    await img.read(0, back);
    assert.ok(back.every((x) => x === 3));
    await img.close();
  } finally {
    cleanup();
  }
});

test("a zero cluster preallocated at 2^55: check and the dirty-image repair stay bounded", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const p = join(dir, "far.qcow2");
    await farZeroEntry(p);
    const img = (await openImageBackend(p, { format: "qcow2", readOnly: true })) as Qcow2Image;
    const r = await checkQcow2(img, "none");
    const fileClusters = Math.ceil(statSync(p).size / CS);
    assert.ok(img.meter.steps <= 4 * (fileClusters + img.l1Off.length * img.l2Entries), `${img.meter.steps}`);
    assert.equal(r.corruptions, 0);
    const b = new Uint8Array(CS);
    await img.read(5 * CS, b);
    assert.ok(b.every((x) => x === 0));
    await img.close();
    // The same entry in a dirty image: opening for writing repairs the refcounts first.
    const d = join(dir, "far-dirty.qcow2");
    await farZeroEntry(d, true);
    const w = (await openImageBackend(d, { format: "qcow2" })) as Qcow2Image;
    assert.ok(w.meter.steps <= 8 * (fileClusters + w.l1Off.length * w.l2Entries), `${w.meter.steps}`);
    assert.equal(w.hdr.incompatibleFeatures & 1, 0, "the dirty bit is cleared after the repair");
    await w.write(5 * CS, new Uint8Array(CS).fill(1));
    await w.close();
  } finally {
    cleanup();
  }
});

test("65,536 snapshots sharing one 32 MiB L1 table are refused at open after a bounded read", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const p = join(dir, "snaps.qcow2");
    await snapshotsSharingL1(p, 65536, 4 << 20);
    const size = statSync(p).size;
    for (const readOnly of [true, false]) {
      const c = countingHost();
      await assert.rejects(openImageOn(c.host, p, { format: "qcow2", readOnly }), (e: unknown) => {
        assert.ok(e instanceof ImageFormatError, String(e));
        assert.match(e.message, /L1 tables .* overlap/);
        return true;
      });
      // The snapshot table is read once and the refusal comes before any L1 table (32 MiB) is read.
      assert.ok(c.bytes() <= size - (4 << 20), `${c.bytes()} bytes read from a ${size}-byte file`);
      assert.ok(c.reads() < 64, `${c.reads()} reads`);
    }
    // The CLI says so in one line.
    const r = tvisor(["info", p]);
    assert.equal(r.status, 1, r.out);
    assert.match(r.out, /^tvisor: .*overlap\n$/);
    // A handful of real snapshots still work.
    const ok = join(dir, "ok.qcow2");
    await createImageFile(ok, { format: "qcow2", size: 1 << 20, clusterSize: CS });
    const img = (await openImageBackend(ok, { format: "qcow2" })) as Qcow2Image;
    for (let i = 0; i < 8; i++) await createSnapshot(img, `s${i}`);
    await img.close();
    const again = (await openImageBackend(ok, { format: "qcow2", readOnly: true })) as Qcow2Image;
    assert.equal(again.snapshots.length, 8);
    await again.close();
  } finally {
    cleanup();
  }
});

test("a FIFO (as an image or as a backing file) is refused at once, never opened for reading", {
  timeout: 600_000,
}, async (t) => {
  const { dir, cleanup } = tempDir();
  try {
    const fifo = join(dir, "pipe");
    if (spawnSync("mkfifo", [fifo]).status !== 0) return t.skip("mkfifo is not available");
    for (const readOnly of [true, false]) {
      await assert.rejects(openImage(fifo, { readOnly }), (e: unknown) => {
        assert.ok(e instanceof UserError);
        assert.match(e.message, /is a FIFO, not a regular file/);
        return true;
      });
    }
    const top = join(dir, "top.qcow2");
    await createImageFile(top, { format: "qcow2", size: 1 << 20 });
    const img = (await openImageBackend(top, { format: "qcow2", noBacking: true })) as Qcow2Image;
    await img.setBackingName(fifo, "raw");
    await img.close();
    await assert.rejects(openImage(top, { format: "qcow2" }), /is a FIFO/);
    const r = tvisor(["info", "--backing-chain", "-f", "qcow2", top]);
    assert.equal(r.status, 1, r.out);
    assert.match(r.out, /is a FIFO/);
    assert.equal(tvisor(["info", fifo]).status, 1);
  } finally {
    cleanup();
  }
});

test("guest data aimed at metadata marks the image corrupt instead of writing", async () => {
  const { dir, cleanup } = tempDir();
  try {
    for (const [target, what] of [
      [REFTABLE, /refcount table/],
      [REFBLOCK, /refcount block/],
      [L1, /active L1 table/],
    ] as const) {
      const p = join(dir, `over-${target}.qcow2`);
      await dataOnMetadata(p, target);
      const before = readFileSync(p).subarray(target, target + CS);
      const img = await openImageBackend(p, { format: "qcow2" });
      await assert.rejects(img.write(0, new Uint8Array(CS).fill(0xee)), (e: unknown) => {
        assert.ok(e instanceof ImageFormatError, String(e));
        assert.match(e.message, what);
        assert.match(e.message, /marked corrupt/);
        return true;
      });
      await img.close().catch(() => undefined);
      const after = readFileSync(p);
      assert.deepEqual(after.subarray(target, target + CS), before, "the metadata was not overwritten");
      assert.equal(be32(after, 76) & 2, 2, "the corrupt bit is set");
      await assert.rejects(openImageBackend(p, { format: "qcow2" }), /marked corrupt/);
    }
    // An L2 table placed on the refcount table: the L2 update is refused too.
    const p = join(dir, "l2-on-reftable.qcow2");
    await l2OnRefcountTable(p);
    const before = readFileSync(p).subarray(REFTABLE, REFTABLE + CS);
    const img = await openImageBackend(p, { format: "qcow2" });
    await assert.rejects(img.write(64 * CS, new Uint8Array(CS).fill(1)), /refcount table.*marked corrupt/);
    await img.close().catch(() => undefined);
    assert.deepEqual(readFileSync(p).subarray(REFTABLE, REFTABLE + CS), before);
  } finally {
    cleanup();
  }
});

test("image create validates before touching an existing file; failures leave nothing behind", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const keep = join(dir, "keep.img");
    const content = Buffer.from("precious data ".repeat(100));
    writeFileSync(keep, content);
    for (const o of ["cluster_size=3", "refcount_bits=3", "compat=9", "bogus=1", "cluster_size=4M"]) {
      const r = tvisor(["create", "-f", "qcow2", "-o", o, keep, "1M"]);
      assert.equal(r.status, 1, `${o}: ${r.out}`);
      assert.match(r.out, /^tvisor: [^\n]+\n$/);
      assert.doesNotMatch(r.out, /internal error/);
      assert.deepEqual(readFileSync(keep), content, `-o ${o} must not change the file`);
    }
    // A size the host refuses (RLIMIT_FSIZE makes EFBIG on any file system): a word, and no file left.
    const big = join(dir, "d.raw");
    const r = spawnSync(
      "sh",
      [
        "-c",
        `trap '' XFSZ; ulimit -f 1024; exec "$0" "$@"`,
        process.execPath,
        TVISOR,
        "image",
        "create",
        "-f",
        "raw",
        big,
        "100T",
      ],
      { encoding: "utf8" },
    );
    assert.equal(r.status, 1, r.stderr);
    assert.match(
      r.stderr,
      /^tvisor: could not resize '.*d\.raw': file too large for the host file system\n$/,
    );
    assert.throws(() => statSync(big), /ENOENT/);
    // The same on an existing file keeps it.
    const r2 = spawnSync(
      "sh",
      [
        "-c",
        `trap '' XFSZ; ulimit -f 1024; exec "$0" "$@"`,
        process.execPath,
        TVISOR,
        "image",
        "create",
        "-f",
        "raw",
        keep,
        "100T",
      ],
      { encoding: "utf8" },
    );
    assert.equal(r2.status, 1, r2.stderr);
    assert.deepEqual(readFileSync(keep), content);
    // Not a regular file.
    const n = tvisor(["create", "-f", "raw", "/dev/null", "1M"]);
    assert.equal(n.status, 1, n.out);
    assert.equal(n.out, "tvisor: could not open '/dev/null': is a character device, not a regular file\n");
  } finally {
    cleanup();
  }
});

test("a dirty image whose repair fails gives a one-line error", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const p = join(dir, "dirty.qcow2");
    await createImageFile(p, { format: "qcow2", size: 1 << 20, clusterSize: CS });
    const img = (await openImageBackend(p, { format: "qcow2" })) as Qcow2Image;
    // Data past the first refcount block's range (256 clusters), so a second block exists.
    for (let i = 0; i < 300; i++) await img.write(i * CS, new Uint8Array(CS).fill(i & 0xff || 1));
    await img.close();
    const b = new Uint8Array(readFileSync(p));
    b.fill(0, REFTABLE + 8, REFTABLE + 16); // drop the second refcount block: its clusters read as unused
    b[79] = b[79]! | 1; // dirty
    writeFileSync(p, b);
    await assert.rejects(openImageBackend(p, { format: "qcow2" }), (e: unknown) => {
      assert.ok(e instanceof ImageFormatError, String(e));
      assert.match(e.message, /not closed cleanly/);
      return true;
    });
    const r = tvisor(["snapshot", "-f", "qcow2", "-c", "s", p]);
    assert.equal(r.status, 1, r.out);
    assert.match(r.out, /^tvisor: qcow2: .*not closed cleanly[^\n]*\n$/);
  } finally {
    cleanup();
  }
});

test("names read from images are escaped before they reach the terminal", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const p = join(dir, "names.qcow2");
    await createImageFile(p, { format: "qcow2", size: 1 << 20 });
    const img = (await openImageBackend(p, { format: "qcow2" })) as Qcow2Image;
    await createSnapshot(img, "\u001b]0;owned\u0007\u009b2J");
    await img.setBackingName("b\u001b[31mred\u0000x", "raw");
    await img.close();
    const hostile = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;
    for (const args of [
      ["info", "-f", "qcow2", p],
      ["info", "-f", "qcow2", "--output", "json", p],
      ["snapshot", "-f", "qcow2", "-l", p],
      ["info", "-f", "qcow2", "--backing-chain", p],
      ["convert", "-f", "qcow2", "-O", "raw", p, join(dir, "out.raw")],
    ]) {
      const r = tvisor(args);
      assert.doesNotMatch(r.out, hostile, `${args.join(" ")}: ${JSON.stringify(r.out)}`);
    }
    assert.match(tvisor(["info", "-f", "qcow2", p]).out, /backing file: b\\x1b\[31mred\\x00x/);
    assert.match(tvisor(["snapshot", "-f", "qcow2", "-l", p]).out, /\\x1b\]0;owned\\x07\\x9b2J/);
    assert.match(tvisor(["info", "-f", "qcow2", "--backing-chain", p]).out, /contains a NUL byte/);
  } finally {
    cleanup();
  }
});

/** Count blockStatus calls made on an image. */
function countStatus<T extends ImageBackend>(img: T): { img: T; calls: () => number } {
  let calls = 0;
  const orig = img.blockStatus.bind(img);
  img.blockStatus = (o: number, l: number) => {
    calls++;
    return orig(o, l);
  };
  return { img, calls: () => calls };
}

test("convert, rebase and discard of a 16 TiB sparse image cost one step per mapped run", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const huge = 2 ** 44;
    const base = join(dir, "base.qcow2");
    await createImageFile(base, { format: "qcow2", size: huge });
    const ov = join(dir, "ov.qcow2");
    await createImageFile(ov, { format: "qcow2", backingFile: "base.qcow2", backingFormat: "qcow2" });
    const w = await openImageBackend(ov, { format: "qcow2" });
    await w.write(huge - 65536, new Uint8Array(65536).fill(9));
    await w.close();
    // 2^44 bytes over 512 MiB per L2 table: 32768 L1 entries. Per-chunk or per-cluster loops would take
    // 2^24 or 2^28 steps.
    const l1Entries = huge / 2 ** 29;
    const src = countStatus(await openImageBackend(ov, { format: "qcow2", readOnly: true }));
    const dstPath = join(dir, "out.qcow2");
    await createImageFile(dstPath, { format: "qcow2", size: huge });
    const dst = await openImageBackend(dstPath, { format: "qcow2" });
    await convertImage(src.img, dst);
    assert.ok(src.calls() <= 3 * l1Entries, `${src.calls()} block-status calls`);
    const back = new Uint8Array(65536);
    await dst.read(huge - 65536, back);
    assert.ok(back.every((x) => x === 9));
    // Discarding the whole disk skips unallocated L2 ranges.
    const q = dst as Qcow2Image;
    const before = q.meter.steps;
    await q.discard(0, huge);
    assert.ok(q.meter.steps - before <= 2 * l1Entries + 16, `${q.meter.steps - before} steps`);
    await dst.close();
    await src.img.close();
    // Safe rebase onto nothing: compares only where either backing file has data.
    const img = (await openImageBackend(ov, { format: "qcow2" })) as Qcow2Image;
    const oldB = countStatus(img.backing as ImageBackend);
    const ovc = countStatus(img);
    await copyDifferences(ovc.img, oldB.img, null, () => undefined);
    assert.ok(ovc.calls() + oldB.calls() <= 4 * l1Entries, `${ovc.calls()} + ${oldB.calls()} calls`);
    await img.setBackingName(null, null);
    await img.close();
  } finally {
    cleanup();
  }
});
