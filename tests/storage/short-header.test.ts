/** A file too short for a qcow2 header is reported with its real size, and a bad cluster_bits by name. */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { ImageFormatError } from "../../src/base/errors.js";
import { openImage } from "../../src/storage/node/open-image.js";
import { tempDir } from "./helpers.js";

test("a 10-byte file opened as qcow2 is too short at 10 bytes, not 1", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const path = join(dir, "short.qcow2");
    writeFileSync(path, Buffer.from("QFI\xfb\0\0\0\x03ab", "latin1"));
    await assert.rejects(
      openImage(path, { format: "qcow2" }),
      (e: unknown) => e instanceof ImageFormatError && /too short for a header \(10 bytes\)/.test(e.message),
    );
  } finally {
    cleanup();
  }
});

test("a full-length header with a tiny cluster_bits names cluster_bits, not the length", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const path = join(dir, "bits.qcow2");
    const h = Buffer.alloc(512);
    h.write("QFI\xfb", 0, "latin1");
    h.writeUInt32BE(3, 4);
    h.writeUInt32BE(1, 20); // cluster_bits 1: a 2-byte "cluster" must not truncate the header
    writeFileSync(path, h);
    await assert.rejects(
      openImage(path, { format: "qcow2" }),
      (e: unknown) => e instanceof ImageFormatError && /cluster_bits 1 is outside/.test(e.message),
    );
  } finally {
    cleanup();
  }
});
