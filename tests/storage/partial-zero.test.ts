/** qcow2 writeZeroes/discard of part of a cluster zeroes only that part, also when it reaches the disk's end. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { createImageFile } from "../../src/storage/node/create-image.js";
import { openImageBackend } from "../../src/storage/node/open-image.js";
import { readAll, tempDir } from "./helpers.js";

const CLUSTER = 4096;

for (const size of [1 << 20, (1 << 20) + 1536]) {
  for (const op of ["writeZeroes", "discard"] as const) {
    test(`${op} of the tail of the last cluster keeps its head (disk of ${size} bytes)`, async () => {
      const { dir, cleanup } = tempDir();
      try {
        const p = join(dir, "d.qcow2");
        await createImageFile(p, { format: "qcow2", clusterSize: CLUSTER, size });
        const img = await openImageBackend(p);
        const lastCluster = size - (size % CLUSTER || CLUSTER);
        const data = new Uint8Array(size - lastCluster).fill(0x42);
        await img.write(lastCluster, data);
        const from = lastCluster + 1000; // unaligned, and the range runs to the end of the disk
        await img[op](from, size - from);
        const back = await readAll(img);
        await img.close();
        assert.ok(
          back.subarray(lastCluster, from).every((b) => b === 0x42),
          "bytes before the range were lost",
        );
        assert.ok(
          back.subarray(from).every((b) => b === 0),
          "the range reads as zeroes",
        );
      } finally {
        cleanup();
      }
    });
  }
}
