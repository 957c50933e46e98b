/**
 * Boot test of Debian's U-Boot (package u-boot-qemu) both ways QEMU's virt board runs it: the M-mode
 * build as the firmware (`--bios u-boot.bin`), and the S-mode build as a raw `--kernel` under OpenSBI's
 * fw_jump (QEMU's -kernel loads a binary that is neither an Image nor an ELF at the kernel start
 * address). U-Boot's prompt must answer a typed command.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { test } from "node:test";
import { BOOT_TEST_TIMEOUT_MS, HANG_GUARD_MS, OPENSBI_DIR, TVISOR_CLI } from "./guest-session.js";

const UBOOT_M = "/usr/lib/u-boot/qemu-riscv64/u-boot.bin";
const UBOOT_S = "/usr/lib/u-boot/qemu-riscv64_smode/u-boot.bin";
const FW_JUMP = `${OPENSBI_DIR}/fw_jump.bin`;

/** Run tvisor until U-Boot's prompt answers `version`; resolves with everything printed. */
function uBootSession(args: string[]): Promise<string> {
  const child = spawn(process.execPath, [TVISOR_CLI, "run", "--mem", "256M", ...args], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  let out = "";
  let typed = false;
  return new Promise((resolve, reject) => {
    // Hang guard only: a stuck run is killed and reported with its output.
    const guard = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`no answer from U-Boot; output:\n${out.slice(-2000)}`));
    }, HANG_GUARD_MS);
    const onData = (d: Buffer) => {
      out += d.toString("latin1");
      // The prompt appears after autoboot finds nothing to boot (no disk, no network).
      if (!typed && /\n=> $/.test(out)) {
        typed = true;
        child.stdin.write("version\n");
      }
      if (typed && /=> version\r?\nU-Boot 20\d\d[\s\S]*\n=> $/.test(out)) {
        clearTimeout(guard);
        child.kill("SIGKILL");
        resolve(out);
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("exit", (code) => {
      clearTimeout(guard);
      if (!typed || !/=> version/.test(out))
        reject(new Error(`tvisor exited ${code}; output:\n${out.slice(-2000)}`));
    });
  });
}

test("U-Boot M-mode as --bios reaches its prompt and answers", {
  timeout: BOOT_TEST_TIMEOUT_MS,
}, async (t) => {
  if (!existsSync(UBOOT_M)) return t.skip(`${UBOOT_M} missing (apt-get install u-boot-qemu)`);
  const out = await uBootSession(["--bios", UBOOT_M]);
  assert.match(out, /U-Boot 20\d\d/);
});

test("U-Boot S-mode as a raw --kernel under OpenSBI reaches its prompt and answers", {
  timeout: BOOT_TEST_TIMEOUT_MS,
}, async (t) => {
  if (!existsSync(UBOOT_S)) return t.skip(`${UBOOT_S} missing (apt-get install u-boot-qemu)`);
  if (!existsSync(FW_JUMP)) return t.skip(`${FW_JUMP} missing (apt-get install opensbi)`);
  const out = await uBootSession(["--bios", FW_JUMP, "--kernel", UBOOT_S]);
  // OpenSBI hands over in S-mode at the kernel start address, where the raw binary was loaded.
  assert.match(out, /Domain0 Next Address\s*: 0x0*80200000/);
  assert.match(out, /Domain0 Next Mode\s*: S-mode/);
  assert.match(out, /U-Boot 20\d\d/);
});
