/** Crash safety: a writer killed with SIGKILL at random points must leave an image qemu-img check calls clean (leaks allowed). */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { test } from "node:test";
import { prngUnit } from "../../src/base/testing.js";
import { createImageFile } from "../../src/storage/node/create-image.js";
import { hasQemuImg, run, tempDir } from "./helpers.js";

const writer = join(import.meta.dirname, "crash-writer.js");

/** Start the writer, wait until it has opened the image, let it run for ms, then SIGKILL it. */
function killAfter(path: string, seed: number, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [writer, path, String(seed)], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let err = "";
    child.stderr.on("data", (d: Buffer) => {
      err += d.toString();
    });
    child.stdout.once("data", () => setTimeout(() => child.kill("SIGKILL"), ms));
    child.on("exit", (code, signal) => {
      if (signal === "SIGKILL") resolve();
      else reject(new Error(`writer exited early (${code}): ${err}`));
    });
  });
}

test("killing a writer at random points leaves no corruption", async (t) => {
  if (!hasQemuImg) return t.skip("qemu-img not installed");
  const { dir, cleanup } = tempDir();
  try {
    const r = prngUnit(99);
    const configs = [
      { name: "default", clusterSize: 65536, refcountBits: 16, size: 64 << 20 },
      // Small clusters and 1-bit refcounts: new refcount blocks and refcount table moves happen often.
      { name: "small", clusterSize: 512, refcountBits: 1, size: 16 << 20 },
    ];
    for (const c of configs) {
      const p = join(dir, `${c.name}.qcow2`);
      await createImageFile(p, {
        format: "qcow2",
        size: c.size,
        clusterSize: c.clusterSize,
        refcountBits: c.refcountBits,
      });
      for (let i = 0; i < 14; i++) {
        // The same image is reopened after every crash, so recovery from a crashed state is covered too.
        await killAfter(p, i + 1, 20 + Math.floor(r() * 180));
        const chk = run("qemu-img", ["check", p]);
        assert.ok(
          chk.status === 0 || chk.status === 3,
          `${c.name} run ${i}: qemu-img check exit ${chk.status}\n${chk.out}`,
        );
      }
      const chk = run("qemu-img", ["check", "-r", "leaks", p]);
      assert.equal(chk.status, 0, chk.out);
    }
  } finally {
    cleanup();
  }
});
