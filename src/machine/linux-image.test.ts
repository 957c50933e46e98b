/** Tests for Image header parsing and gzip unpacking. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { gzipSync } from "node:zlib";
import { isGzip, loadLinuxKernel, parseLinuxImageHeader } from "./linux-image.js";
import { nodeGunzip } from "./node/gunzip.js";

function fakeImage(size = 8192, imageSize = 0x20000, magic2 = 0x05435352): Uint8Array {
  const b = new Uint8Array(size);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, 0x0000006f, true); // code0: j . (any code)
  dv.setBigUint64(8, 0x200000n, true);
  dv.setBigUint64(16, BigInt(imageSize), true);
  dv.setUint32(32, 2, true);
  dv.setBigUint64(48, 0x5643534952n, true);
  dv.setUint32(56, magic2, true);
  return b;
}

test("parses the header fields", () => {
  const h = parseLinuxImageHeader(fakeImage());
  assert.equal(h.textOffset, 0x200000);
  assert.equal(h.imageSize, 0x20000);
  assert.equal(h.version, 2);
});

test("rejects non-images with a clear message", () => {
  assert.throws(() => parseLinuxImageHeader(new Uint8Array(10)), /too short/);
  const noMagic = fakeImage(8192, 0x20000, 0);
  new DataView(noMagic.buffer).setBigUint64(48, 0n, true);
  assert.throws(() => parseLinuxImageHeader(noMagic), /not a RISC-V Linux Image/);
  const elf = new Uint8Array(128);
  elf.set([0x7f, 0x45, 0x4c, 0x46]);
  assert.throws(() => parseLinuxImageHeader(elf), /ELF/);
  assert.throws(() => parseLinuxImageHeader(fakeImage(8192, 4096)), /image_size/);
});

test("image_size 0 (pre-0.2 header) falls back to the file size", () => {
  assert.equal(parseLinuxImageHeader(fakeImage(8192, 0)).imageSize, 8192);
});

test("unpacks gzip kernels", async () => {
  const raw = fakeImage();
  const gz = new Uint8Array(gzipSync(raw));
  assert.ok(isGzip(gz));
  assert.ok(!isGzip(raw));
  const k = await loadLinuxKernel(gz, nodeGunzip);
  assert.equal(k.compressed, true);
  assert.deepEqual(k.image, raw);
  const corrupt = gz.slice();
  corrupt.fill(0xff, 20, 40);
  await assert.rejects(loadLinuxKernel(corrupt, nodeGunzip), /gzip data is corrupt/);
});
