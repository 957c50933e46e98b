/**
 * images/riscv64/VERSIONS.md is generated, never hand-edited: regenerating it from the committed artifacts
 * and their build records (images/gen-versions.sh) must give the committed file byte for byte, and the
 * script must refuse an artifact its build record does not describe.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const IMAGES = fileURLToPath(new URL("../../../images/", import.meta.url));
const haveTools = ["bash", "gzip", "strings", "sha256sum"].every(
  (t) => spawnSync("sh", ["-c", `command -v ${t}`]).status === 0,
);

test("VERSIONS.md is what images/gen-versions.sh makes of the artifacts and their build records", {
  skip: haveTools ? false : "needs bash, gzip, strings (binutils) and sha256sum",
}, (t) => {
  const dir = mkdtempSync(join(tmpdir(), "tvisor-versions-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const out = join(dir, "VERSIONS.md");
  const r = spawnSync(join(IMAGES, "gen-versions.sh"), { env: { ...process.env, VERSIONS_OUT: out } });
  assert.equal(r.status, 0, r.stderr.toString());
  assert.equal(
    readFileSync(out, "utf8"),
    readFileSync(join(IMAGES, "riscv64/VERSIONS.md"), "utf8"),
    "images/riscv64/VERSIONS.md is stale or hand-edited: run images/gen-versions.sh",
  );

  // A copy whose initramfs is not the one its record names: refused, nothing written.
  const copy = join(dir, "images");
  cpSync(IMAGES, copy, { recursive: true });
  writeFileSync(join(copy, "riscv64/initramfs.cpio.gz"), "not the built archive");
  const bad = spawnSync(join(copy, "gen-versions.sh"), {
    env: { ...process.env, VERSIONS_OUT: join(dir, "x.md") },
  });
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr.toString(), /initramfs\.cpio\.gz is not the one initramfs\.buildinfo describes/);
});
