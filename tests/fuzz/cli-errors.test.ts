/**
 * `tvisor` as a subprocess with bad invocations: every one must exit nonzero with exactly one
 * `tvisor: ...` line on stderr and no stack trace (the project rule for bad user input).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const TVISOR = fileURLToPath(new URL("../../src/bin/tvisor.js", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "tvisor-cli-fuzz-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, data: Uint8Array | string): string {
  const p = join(dir, name);
  writeFileSync(p, data);
  return p;
}

/** A header-only RISC-V Image whose code is `j .`; it is only used where loading fails before boot. */
function tinyImage(imageSize = 0x10000n): Uint8Array {
  const b = new Uint8Array(128);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, 0x0000006f, true);
  dv.setBigUint64(8, 0x200000n, true);
  dv.setBigUint64(16, imageSize, true);
  dv.setBigUint64(48, 0x5643534952n, true);
  dv.setUint32(56, 0x05435352, true);
  return b;
}

function run(args: string[]) {
  const r = spawnSync(process.execPath, [TVISOR, ...args], { input: "", timeout: 30_000 });
  return { status: r.status, signal: r.signal, stderr: r.stderr.toString() };
}

function assertOneLineError(args: string[], re: RegExp): void {
  const r = run(args);
  const what = `tvisor ${args.join(" ")}`;
  assert.equal(r.signal, null, `${what}: killed by ${r.signal} (hang?)`);
  assert.notEqual(r.status, 0, `${what} should fail`);
  assert.match(r.stderr, /^tvisor: [^\n]+\n$/, `${what}: stderr ${JSON.stringify(r.stderr)}`);
  assert.doesNotMatch(r.stderr, /\n\s+at |internal error/, `${what}: stack trace or internal error`);
  assert.match(r.stderr, re, `${what}: stderr ${JSON.stringify(r.stderr)}`);
}

test("bad option values, missing and broken files: one `tvisor:` line, nonzero exit", () => {
  const missing = join(dir, "missing");
  const image = file("Image", tinyImage());
  const cases: Array<[string[], RegExp]> = [
    [["run", "--cpus", "0"], /--cpus/],
    [["run", "--cpus", "-1"], /--cpus/],
    [["run", "--cpus", "1e1"], /--cpus/],
    [["run", "--cpus", "99999999999999999999"], /--cpus/],
    [["run", "--mem", "0"], /--mem/],
    [["run", "--mem", "-5M"], /--mem/],
    [["run", "--mem", "1e400"], /--mem/],
    [["run", "--mem", "17G"], /--mem/],
    [["run", "--mem", "NaN"], /--mem/],
    [["run", "--disk", ""], /--disk/],
    [["run", "--disk", ",format=raw"], /--disk/],
    [["run", "--disk", "x.img,format=vmdk"], /--disk/],
    [["run", "--disk", "x.img,readonly=maybe"], /--disk/],
    [["run", "--disk", "x.img,cache=none"], /--disk/],
    [["run", "--kernel", missing], /kernel/],
    [["run", "--kernel", dir], /kernel/],
    [["run", "--kernel", file("empty", "")], /kernel/],
    [["run", "--kernel", file("short", "RSC")], /kernel/],
    [
      ["run", "--kernel", file("elf", Uint8Array.of(0x7f, 0x45, 0x4c, 0x46, ...new Uint8Array(60)))],
      /kernel/,
    ],
    [
      [
        "run",
        "--kernel",
        file("bad.gz", Uint8Array.of(0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, ...new Uint8Array(40).fill(0xff))),
      ],
      /kernel/,
    ],
    [["run", "--kernel", file("junk.gz", new Uint8Array(gzipSync(new Uint8Array(5000).fill(7))))], /kernel/],
    [["run", "--kernel", file("huge", tinyImage((1n << 64n) - 1n))], /kernel/],
    [["run", "--kernel", file("big", tinyImage(1n << 40n)), "--mem", "64M"], /memory too small/],
    [["run", "--kernel", image, "--mem", "64M", "--initrd", missing], /initrd|missing/],
    [["run", "--kernel", image, "--mem", "64M", "--bios", missing], /bios|missing/],
    [
      [
        "run",
        "--kernel",
        image,
        "--mem",
        "64M",
        "--bios",
        file("bios.elf", Uint8Array.of(0x7f, 0x45, 0x4c, 0x46, 2, 1)),
      ],
      /ELF|bios/,
    ],
    [["run", "--kernel", image, "--mem", "64M", "--disk", missing], /missing/],
    [
      ["run", "--kernel", image, "--mem", "64M", "--disk", `${file("notqcow", "hello")},format=qcow2`],
      /notqcow|qcow2/,
    ],
    [["run", "--bios", "none"], /--kernel/],
    [["run", "--bios", "none", "--kernel", missing], /kernel/],
    [["run", "--bios", "none", "--kernel", file("notelf", "hello world")], /ELF/],
  ];
  for (const [args, re] of cases) assertOneLineError(args, re);
});

test("commander's own parse errors (unknown flags/verbs, missing values) also use the `tvisor:` prefix", () => {
  for (const args of [["run", "--bogus"], ["run", "--cpus"], ["bogus"], ["run", "extra", "args"]]) {
    assertOneLineError(args, /./);
  }
});

test("commander's parse errors are at least one line, nonzero, and free of stack traces", () => {
  for (const args of [["run", "--bogus"], ["run", "--cpus"], ["bogus"], ["run", "extra", "args"]]) {
    const r = run(args);
    assert.notEqual(r.status, 0, args.join(" "));
    assert.equal(r.stderr.trim().split("\n").length, 1, `${args.join(" ")}: ${JSON.stringify(r.stderr)}`);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  }
});
