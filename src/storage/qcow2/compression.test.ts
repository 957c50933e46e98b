/** Unit tests for compressed-cluster decoding limits: a zstd frame may not declare a huge window. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ImageFormatError } from "../../base/errors.js";
import { nodeDeflate } from "../node/node-host.js";
import { COMPRESSION_DEFLATE, COMPRESSION_ZSTD, decompressCluster, zstdFrameEnd } from "./compression.js";

/** A zstd frame header (magic, descriptor, window or content size) followed by one last raw block. */
function frame(fhd: number, extra: number[], payload: number[]): Uint8Array {
  const n = payload.length;
  const blockHeader = [1 | (0 << 1) | ((n << 3) & 0xff), (n << 3) >> 8, (n << 3) >> 16];
  return new Uint8Array([0x28, 0xb5, 0x2f, 0xfd, fhd, ...extra, ...blockHeader, ...payload]);
}

test("zstd frames declaring windows far beyond a cluster are refused before decoding", () => {
  // Window descriptor 0xf8: 2^41 bytes; the decoder would allocate it up front (up to its 2 GiB cap).
  const huge = frame(0x00, [0xf8], [1, 2, 3]);
  assert.throws(() => zstdFrameEnd(huge, 0, 1 << 20), /window/);
  assert.throws(
    () => decompressCluster(COMPRESSION_ZSTD, nodeDeflate, huge, 65536, 512),
    (e: unknown) => {
      assert.ok(e instanceof ImageFormatError);
      assert.match(e.message, /does not decompress .*window/);
      return true;
    },
  );
  // Single segment with a 4 GiB content size: the content size is the window.
  const big = frame(0xe0, [0, 0, 0, 0, 1, 0, 0, 0], [1]);
  assert.throws(() => zstdFrameEnd(big, 0, 1 << 20), /window/);
  // A sane frame: a 64 KiB window, one raw block of 3 bytes; its end is found exactly.
  const ok = frame(0x00, [0x30], [7, 8, 9]);
  assert.equal(zstdFrameEnd(ok, 0, 1 << 20), ok.length);
});

test("deflate output is capped at the cluster size", () => {
  const z = nodeDeflate.deflateRaw(new Uint8Array(1 << 20).fill(1), 1 << 20);
  assert.ok(z);
  // A 1 KiB stream that would inflate to 1 MiB stops at the 4 KiB cluster and is refused.
  assert.ok(z.length < 2048);
  assert.throws(() => decompressCluster(COMPRESSION_DEFLATE, nodeDeflate, z, 4096, 512), ImageFormatError);
  const one = nodeDeflate.deflateRaw(new Uint8Array(4096).fill(1), 4096);
  assert.ok(one);
  assert.deepEqual(
    decompressCluster(COMPRESSION_DEFLATE, nodeDeflate, one, 4096, 512),
    new Uint8Array(4096).fill(1),
  );
});
