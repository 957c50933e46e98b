/** CLI test: `tvisor run` as a subprocess — pipe-mode console driven by a script, and one-line errors. */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import {
  BOOT_TEST_TIMEOUT_MS,
  HANG_GUARD_MS,
  KERNEL,
  missingImages,
  runCliSession,
  TVISOR_CLI,
} from "./guest-session.js";

const TVISOR = TVISOR_CLI;

function tvisor(args: string[]) {
  const r = spawnSync(process.execPath, [TVISOR, "run", ...args], { input: "", timeout: HANG_GUARD_MS });
  return { status: r.status, stderr: r.stderr.toString(), stdout: r.stdout.toString() };
}

test("pipe mode: a script types commands, poweroff exits 0", { timeout: BOOT_TEST_TIMEOUT_MS }, async (t) => {
  const why = missingImages();
  if (why) return t.skip(why);
  const { code, out, err } = await runCliSession(
    ["run", "--mem", "128M"],
    "echo sum=$((40 + 2))\nuname -m\npoweroff\n",
  );
  assert.equal(code, 0, `exit ${code}; stderr: ${err}; output tail: ${out.slice(-800)}`);
  assert.match(out, /^sum=42\r?$/m);
  assert.match(out, /^riscv64\r?$/m);
  assert.match(out, /reboot: Power down/);
});

test("bad flags, missing files, wrong kernels and small memory give one-line errors", (t) => {
  const dir = mkdtempSync(join(tmpdir(), "tvisor-cli-"));
  try {
    const notKernel = join(dir, "not-a-kernel");
    // Any bytes are a raw kernel (as for QEMU's -kernel); an ELF for another machine is refused.
    const x86 = new Uint8Array(4096);
    x86.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]); // ELF64, little-endian
    x86[16] = 2; // ET_EXEC
    x86[18] = 62; // EM_X86_64
    writeFileSync(notKernel, x86);
    const cases: Array<[string[], RegExp]> = [
      [["--cpus", "9"], /^tvisor: --cpus: expected 1\.\.8, got "9"\n$/],
      [["--mem", "lots"], /^tvisor: --mem: cannot parse "lots"/],
      [["--disk", "x.img,format=vmdk"], /^tvisor: --disk: unknown format "vmdk"/],
      [["--kernel", join(dir, "missing")], /^tvisor: kernel: cannot read .*missing: no such file\n$/],
      [["--kernel", notKernel], /^tvisor: kernel: ELF is for machine x86-64 \(62\), not RISC-V\n$/],
      [["--kernel", notKernel, "--bios", join(dir, "nobios")], /^tvisor: (kernel|bios): /],
      [["--bogus-flag"], /unknown option '--bogus-flag'/],
    ];
    if (!missingImages()) {
      cases.push([
        ["--kernel", KERNEL, "--mem", "16M"],
        /^tvisor: --mem: memory too small: the boot layout needs \d+ MiB of RAM, not 16 MiB: the kernel at 0x80200000/,
      ]);
      cases.push([["--disk", join(dir, "nodisk.img")], /^tvisor: .*nodisk\.img/]);
    }
    for (const [args, re] of cases) {
      const r = tvisor(args);
      assert.notEqual(r.status, 0, `${args.join(" ")} should fail`);
      assert.match(r.stderr, re, `${args.join(" ")}: stderr was ${JSON.stringify(r.stderr)}`);
      assert.equal(r.stderr.trim().split("\n").length, 1, `one line expected: ${JSON.stringify(r.stderr)}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  void t;
});
