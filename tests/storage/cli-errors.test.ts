/** Open and read errors on user-given paths: one line, naming the path and the reason in words, never errno text. */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { ImageFormatError, UserError } from "../../src/base/errors.js";
import { createImageFile } from "../../src/storage/node/create-image.js";
import { ioReason } from "../../src/storage/node/node-host.js";
import { openImage } from "../../src/storage/node/open-image.js";
import { tempDir } from "./helpers.js";

const TVISOR = join(import.meta.dirname, "../../src/bin/tvisor.js");

function tvisor(args: string[], asUser?: number): { status: number; out: string } {
  const r = spawnSync(process.execPath, [TVISOR, "image", ...args], {
    encoding: "utf8",
    ...(asUser === undefined ? {} : { uid: asUser, gid: asUser }),
  });
  return { status: r.status ?? -1, out: `${r.stdout ?? ""}${r.stderr ?? ""}` };
}

/** The CLI failed with exactly one line `tvisor: ...` that names path and says why. */
function assertOneLine(r: { status: number; out: string }, path: string, why: RegExp): void {
  assert.equal(r.status, 1, r.out);
  const lines = r.out.trimEnd().split("\n");
  assert.equal(lines.length, 1, r.out);
  const line = lines[0] ?? "";
  assert.match(line, /^tvisor: /);
  assert.ok(line.includes(path), `${line} should name ${path}`);
  assert.match(line, why);
  assert.doesNotMatch(line, /E[A-Z]{3,}:|illegal operation/);
}

test("every image verb names a directory, a missing file and an unreadable file in words", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const sub = join(dir, "adir");
    mkdirSync(sub);
    const missing = join(dir, "missing.qcow2");
    const good = join(dir, "good.qcow2");
    await createImageFile(good, { format: "qcow2", size: 1 << 20 });
    const out = join(dir, "out.raw");
    for (const [target, why] of [
      [sub, /is a directory/],
      [missing, /no such file/],
    ] as const) {
      assertOneLine(tvisor(["info", target]), target, why);
      assertOneLine(tvisor(["check", target]), target, why);
      assertOneLine(tvisor(["check", "-r", "all", target]), target, why);
      assertOneLine(tvisor(["convert", "-O", "raw", target, out]), target, why);
      assertOneLine(tvisor(["snapshot", "-l", target]), target, why);
      assertOneLine(tvisor(["snapshot", "-c", "s1", target]), target, why);
      assertOneLine(tvisor(["resize", target, "2M"]), target, why);
      assertOneLine(tvisor(["rebase", "-u", "-b", "", target]), target, why);
    }
    // Output paths and new images.
    assertOneLine(tvisor(["create", "-f", "qcow2", sub, "1M"]), sub, /is a directory/);
    assertOneLine(tvisor(["convert", "-O", "qcow2", good, sub]), sub, /is a directory/);
    const noParent = join(dir, "nope", "x.qcow2");
    assertOneLine(tvisor(["create", "-f", "qcow2", noParent, "1M"]), noParent, /no such file/);
    // A backing file named with -b that does not exist.
    assertOneLine(
      tvisor(["create", "-f", "qcow2", "-b", missing, "-F", "qcow2", join(dir, "o.qcow2")]),
      missing,
      /no such file/,
    );

    // Permission denied: root reads everything, so run as nobody there.
    const secret = join(dir, "secret.qcow2");
    await createImageFile(secret, { format: "qcow2", size: 1 << 20 });
    let asUser: number | undefined;
    if (process.getuid?.() === 0) {
      asUser = 65534;
      chmodSync(dir, 0o755);
      chmodSync(secret, 0o600);
    } else {
      chmodSync(secret, 0);
    }
    for (const verb of [["info"], ["check"], ["snapshot", "-l"]]) {
      assertOneLine(tvisor([...verb, secret], asUser), secret, /permission denied/);
    }
  } finally {
    cleanup();
  }
});

test("format errors name the file, through the CLI and openImage (tvisor run --disk)", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const text = join(dir, "notes.txt");
    writeFileSync(text, "hello, not an image\n".repeat(40));
    assertOneLine(tvisor(["info", "-f", "qcow2", text]), text, /qcow2: bad magic/);
    assertOneLine(tvisor(["check", "-f", "qcow2", text]), text, /qcow2: bad magic/);
    assertOneLine(tvisor(["info", "-f", "vmdk", text]), text, /vmdk: bad magic/);
    await assert.rejects(openImage(text, { format: "qcow2", readOnly: true }), (e: unknown) => {
      assert.ok(e instanceof ImageFormatError);
      assert.equal(e.message, `${text}: qcow2: bad magic`);
      return true;
    });
    // A broken backing file is named once, by its own path.
    const top = join(dir, "top.qcow2");
    await createImageFile(top, { format: "qcow2", size: 1 << 20 });
    const back = join(dir, "back.qcow2");
    await createImageFile(back, { format: "qcow2", size: 1 << 20 });
    await createImageFile(top, { format: "qcow2", backingFile: back, backingFormat: "qcow2" });
    writeFileSync(back, "junk".repeat(200));
    await assert.rejects(openImage(top, { format: "qcow2" }), (e: unknown) => {
      assert.ok(e instanceof UserError);
      assert.equal(e.message, `${back}: qcow2: bad magic`);
      return true;
    });

    const sub = join(dir, "d");
    mkdirSync(sub);
    for (const [target, why] of [
      [sub, "is a directory"],
      [join(dir, "missing.img"), "no such file"],
    ] as const) {
      for (const readOnly of [true, false]) {
        await assert.rejects(openImage(target, { readOnly }), (e: unknown) => {
          assert.ok(e instanceof UserError);
          assert.equal(e.message, `could not open '${target}': ${why}`);
          return true;
        });
      }
    }
  } finally {
    cleanup();
  }
});

test("errno codes read as words", () => {
  const err = (code: string): Error => Object.assign(new Error(`${code}: raw text`), { code });
  assert.equal(ioReason(err("EISDIR")), "is a directory");
  assert.equal(ioReason(err("ENOENT")), "no such file");
  assert.equal(ioReason(err("EACCES")), "permission denied");
  assert.equal(ioReason(err("EPERM")), "permission denied");
  assert.equal(ioReason(err("ENOTDIR")), "a path component is not a directory");
});
