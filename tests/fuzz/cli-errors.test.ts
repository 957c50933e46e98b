/**
 * `tvisor` as a subprocess with bad invocations: every one must exit nonzero with exactly one
 * `tvisor: ...` line on stderr and no stack trace (the project rule for bad user input).
 */
import assert from "node:assert/strict";
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { bareElf, printForever, spinForever, spinThenExit } from "./bare-program.js";

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
  const r = spawnSync(process.execPath, [TVISOR, ...args], { input: "", timeout: 300_000 });
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
  // A program that would run forever: the flags must be refused before it starts.
  const prog = file("spin.elf", bareElf(spinForever()));
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
    // A bare program has no initramfs, command line or virtio disks: refused, not silently ignored.
    [
      ["run", "--bios", "none", "--kernel", prog, "--initrd", image],
      /--initrd: not supported with bios none/,
    ],
    [["run", "--bios", "none", "--kernel", prog, "--append", ""], /--append: not supported with bios none/],
    [["run", "--bios", "none", "--kernel", prog, "--disk", image], /--disk: not supported with bios none/],
  ];
  for (const [args, re] of cases) assertOneLineError(args, re);
});

test("boot files: devices, FIFOs, files larger than RAM, gzip bombs and corrupt gzip are refused in words", () => {
  const image = file("Image2", tinyImage());
  // Larger than a 16 MiB guest's RAM; sparse, and refused before a byte of it is read.
  const big = join(dir, "big-initrd");
  writeFileSync(big, "");
  truncateSync(big, 17 << 20);
  // 32 MiB of zeros in about 32 KiB: more than a 16 MiB guest can hold once decompressed.
  const bomb = file("bomb.gz", new Uint8Array(gzipSync(new Uint8Array(32 << 20))));
  const corruptGz = file(
    "corrupt.gz",
    Uint8Array.of(0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, ...new Uint8Array(40).fill(0xff)),
  );
  const cases: Array<[string[], RegExp]> = [
    [
      ["run", "--kernel", "/dev/zero"],
      /^tvisor: kernel: \/dev\/zero is a character device, not a regular file/,
    ],
    [
      ["run", "--kernel", image, "--initrd", "/dev/zero"],
      /^tvisor: initrd: \/dev\/zero is a character device/,
    ],
    [["run", "--kernel", image, "--bios", "/dev/zero"], /^tvisor: bios: \/dev\/zero is a character device/],
    [
      ["run", "--bios", "none", "--kernel", "/dev/zero"],
      /^tvisor: kernel: \/dev\/zero is a character device/,
    ],
    [["run", "--kernel", dir], /^tvisor: kernel: .* is a directory, not a regular file/],
    [
      ["run", "--kernel", image, "--mem", "16M", "--initrd", big],
      /^tvisor: initrd: .* is 17825792 bytes, more than the guest's RAM \(16777216 bytes\)/,
    ],
    [
      ["run", "--kernel", bomb, "--mem", "16M"],
      /^tvisor: kernel: gzip data decompresses to more than 16777216 bytes/,
    ],
    [["run", "--kernel", corruptGz], /^tvisor: kernel: gzip data is corrupt \(.+\)/],
    [
      ["run", "--kernel", image, "--bios", corruptGz],
      /^tvisor: bios: .*corrupt\.gz: gzip data is corrupt \(.+\)/,
    ],
    [["run", "--kernel", image, "--mem", "16M", "--bios", bomb], /^tvisor: bios: .*more than 16777216 bytes/],
  ];
  const fifo = join(dir, "fifo");
  if (spawnSync("mkfifo", [fifo]).status === 0) {
    // Opening a FIFO nobody writes blocks; the loader must refuse it without waiting for a writer.
    cases.push([
      ["run", "--kernel", fifo],
      /^tvisor: kernel: .*fifo is a FIFO \(named pipe\), not a regular file/,
    ]);
    cases.push([["run", "--bios", "none", "--kernel", fifo], /^tvisor: kernel: .*fifo is a FIFO/]);
  }
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

/** Spawn tvisor with pipes; resolves with its exit status, signal and stderr. */
function spawnTvisor(args: string[], onStart: (c: ChildProcessWithoutNullStreams) => void) {
  const c = spawn(process.execPath, [TVISOR, ...args], { stdio: "pipe" });
  let stderr = "";
  c.stderr.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  // Hang guard only: a regression shows up as a crash or a wrong status long before this.
  const guard = setTimeout(() => c.kill("SIGKILL"), 120_000);
  onStart(c);
  return new Promise<{ status: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) => {
    c.on("close", (status, signal) => {
      clearTimeout(guard);
      resolve({ status, signal, stderr });
    });
  });
}

test("stdout closed by its reader (`tvisor run | head -c 5`): the run ends with status 0, no EPIPE crash", async () => {
  const prog = file("print.elf", bareElf(printForever()));
  let got = "";
  const r = await spawnTvisor(["run", "--bios", "none", "--kernel", prog], (c) => {
    c.stdin.end();
    c.stdout.on("data", (d: Buffer) => {
      got += d.toString();
      // Like `head -c 5`: take a few bytes, then close the pipe while the program keeps printing.
      if (got.length >= 5) c.stdout.destroy();
    });
  });
  assert.ok(got.startsWith("xxxxx"), JSON.stringify(got));
  assert.equal(r.signal, null);
  assert.equal(r.status, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /EPIPE|\n\s+at |internal error/);
});

test("stdout closed before `tvisor image info` writes: output is discarded, the command still succeeds", async () => {
  const img = file("disk.raw", new Uint8Array(1 << 16));
  const r = await spawnTvisor(["image", "info", img], (c) => {
    c.stdout.destroy();
  });
  assert.equal(r.signal, null);
  assert.equal(r.status, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /EPIPE|\n\s+at /);
});

test("an endless stdin (`cat /dev/zero | tvisor run --bios none`) neither crashes nor grows the heap", async () => {
  // The program never reads its console and exits after about 25 M instructions. Meanwhile stdin offers
  // 64 MiB; tvisor must take only a bounded part (flow control pauses stdin, queues drop the rest). The
  // child's heap is capped at 48 MiB, so input kept as it arrives (a number[] per byte was the fault)
  // dies of heap exhaustion instead of exiting 0.
  const prog = file("spin-exit.elf", bareElf(spinThenExit(0x1800)));
  const c = spawn(
    process.execPath,
    ["--max-old-space-size=48", TVISOR, "run", "--bios", "none", "--mem", "16M", "--kernel", prog],
    { stdio: "pipe" },
  );
  let stderr = "";
  c.stderr.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  c.stdin.on("error", () => {}); // EPIPE once the child has exited
  const guard = setTimeout(() => c.kill("SIGKILL"), 120_000);
  const chunk = new Uint8Array(1 << 20);
  for (let i = 0; i < 64; i++) c.stdin.write(chunk);
  c.stdin.end();
  const [status, signal] = (await once(c, "close")) as [number | null, NodeJS.Signals | null];
  clearTimeout(guard);
  assert.equal(signal, null, stderr);
  assert.equal(status, 0, stderr);
  assert.doesNotMatch(stderr, /heap|memory|\n\s+at /i);
});

test("Ctrl-A X on a terminal ends a bare program that never exits (status 0)", async (t) => {
  // util-linux `script` gives tvisor a pseudo-terminal, so the console goes raw and interprets escapes.
  if (spawnSync("script", ["--version"]).status !== 0) {
    t.skip("no `script` (util-linux) to provide a terminal");
    return;
  }
  const prog = file("print-tty.elf", bareElf(printForever()));
  const cmd = `${JSON.stringify(process.execPath)} ${JSON.stringify(TVISOR)} run --bios none --kernel ${JSON.stringify(prog)}`;
  const c = spawn("script", ["-qfec", cmd, "/dev/null"], { stdio: "pipe" });
  const guard = setTimeout(() => c.kill("SIGKILL"), 120_000);
  let sent = false;
  c.stdout.on("data", (d: Buffer) => {
    // The program's output shows the console is up (and raw): now type the escape.
    if (!sent && d.includes(0x78)) {
      sent = true;
      c.stdin.write(Uint8Array.of(0x01, 0x78));
    }
  });
  const [status, signal] = (await once(c, "close")) as [number | null, NodeJS.Signals | null];
  clearTimeout(guard);
  assert.ok(sent, "the program printed nothing");
  assert.equal(signal, null);
  assert.equal(status, 0);
});

test("`tvisor run | head -1` with the bundled Linux: the VM stops when stdout's reader goes, status 0", async (t) => {
  const kernel = fileURLToPath(new URL("../../../images/riscv64/Image.gz", import.meta.url));
  if (!existsSync(kernel)) {
    t.skip("no bundled kernel (images/build-kernel.sh)");
    return;
  }
  let got = "";
  const r = await spawnTvisor(["run", "--mem", "64M"], (c) => {
    c.stdin.end();
    c.stdout.on("data", (d: Buffer) => {
      got += d.toString();
      if (got.includes("\n")) c.stdout.destroy();
    });
  });
  assert.match(got, /Linux version/);
  assert.equal(r.signal, null);
  assert.equal(r.status, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /EPIPE|\n\s+at |internal error/);
});
