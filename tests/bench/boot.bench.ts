/** Boot benchmark: the bundled kernel + initramfs under tvisor (built-in SBI and OpenSBI) and under qemu-system-riscv64. */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import type { CharBackend } from "../../src/io/char-backend.js";
import { createNodeHost } from "../../src/vmm/node/node-host.js";
import { VirtualMachine } from "../../src/vmm/vm.js";
import type { JitSpec } from "../../src/vmm/vm-spec.js";

const KERNEL = fileURLToPath(new URL("../../../images/riscv64/Image.gz", import.meta.url));
const INITRD = fileURLToPath(new URL("../../../images/riscv64/initramfs.cpio.gz", import.meta.url));
const FW_DYNAMIC = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin";
const READY = "tvisor: guest ready";
const MEM = "128M";
const APPEND = "console=ttyS0";

interface BootResult {
  name: string;
  /** Seconds from start to the guest's "tvisor: guest ready" line. */
  bootSeconds: number;
  /** Seconds from start until the process/VM ended after `poweroff`. */
  totalSeconds: number;
  /** Guest instructions retired up to "guest ready" (null when the emulator cannot count them). */
  instructions: number | null;
}

/** Boot under tvisor through the library; counts instructions exactly (sum of the harts' instret). */
async function bootTvisor(name: string, bios: string, jit: JitSpec): Promise<BootResult> {
  let out = "";
  let ready: { t: number; insns: number } | null = null;
  let vm: VirtualMachine | null = null;
  let typeIn: ((d: Uint8Array) => void) | null = null;
  const t0 = performance.now();
  const console: CharBackend = {
    write: (d) => {
      out += Buffer.from(d).toString("latin1");
      if (ready === null && out.includes(READY) && vm) {
        ready = { t: performance.now(), insns: vm.instret };
        setTimeout(() => typeIn?.(new TextEncoder().encode("poweroff\n")), 300);
      }
    },
    onInput: (h) => {
      typeIn = h;
    },
  };
  vm = new VirtualMachine(
    {
      kernel: KERNEL,
      initrd: INITRD,
      append: APPEND,
      bios,
      memBytes: 128 << 20,
      cpus: 1,
      disks: [],
      rng: true,
      jit,
    },
    createNodeHost(console),
  );
  const exit = await vm.run();
  const t1 = performance.now();
  await vm.close();
  if (exit.kind !== "poweroff" || ready === null)
    throw new Error(`${name}: boot did not complete (${exit.kind})`);
  const r = ready as { t: number; insns: number };
  return { name, bootSeconds: (r.t - t0) / 1000, totalSeconds: (t1 - t0) / 1000, instructions: r.insns };
}

/** Boot under QEMU TCG (`-M virt`, its default OpenSBI fw_dynamic); QEMU 7.2 cannot count instructions without plugins. */
async function bootQemu(kernelImage: string): Promise<BootResult> {
  const args = ["-M", "virt", "-m", MEM, "-smp", "1", "-nographic", "-kernel", kernelImage];
  args.push("-initrd", INITRD, "-append", APPEND, "-device", "virtio-rng-device", "-no-reboot");
  const t0 = performance.now();
  const child = spawn("qemu-system-riscv64", args, { stdio: ["pipe", "pipe", "pipe"] });
  let out = "";
  let readyAt: number | null = null;
  child.stdout.on("data", (d: Buffer) => {
    out += d.toString("latin1");
    if (readyAt === null && out.includes(READY)) {
      readyAt = performance.now();
      setTimeout(() => child.stdin.write("poweroff\n"), 300);
    }
  });
  const killer = setTimeout(() => child.kill("SIGKILL"), 300_000);
  await new Promise((resolve) => child.on("exit", resolve));
  clearTimeout(killer);
  const t1 = performance.now();
  if (readyAt === null) throw new Error(`qemu: boot did not complete; output tail: ${out.slice(-500)}`);
  return {
    name: "qemu-system-riscv64 -M virt (TCG, OpenSBI)",
    bootSeconds: (readyAt - t0) / 1000,
    totalSeconds: (t1 - t0) / 1000,
    instructions: null,
  };
}

function fmt(n: number, digits = 2): string {
  return n.toFixed(digits);
}

export async function bench(): Promise<void> {
  if (!existsSync(KERNEL) || !existsSync(INITRD)) {
    console.log("skipped: bundled guest not built (images/build-kernel.sh, images/build-initramfs.sh)");
    return;
  }
  const results: BootResult[] = [];
  // One discarded boot first, so V8 has compiled the interpreter before anything is timed.
  await bootTvisor("warm-up", "builtin", "off");
  results.push(await bootTvisor("tvisor (built-in SBI), JIT", "builtin", "on"));
  results.push(await bootTvisor("tvisor (built-in SBI), interpreter", "builtin", "off"));
  if (existsSync(FW_DYNAMIC))
    results.push(await bootTvisor("tvisor (OpenSBI fw_dynamic), JIT", FW_DYNAMIC, "on"));
  const qemuPresent = spawnSync("qemu-system-riscv64", ["--version"]).status === 0;
  if (qemuPresent) {
    // QEMU 7.2 loads a flat Image only, so unpack Image.gz for it.
    const dir = mkdtempSync(join(tmpdir(), "tvisor-bench-"));
    try {
      const image = join(dir, "Image");
      writeFileSync(image, gunzipSync(readFileSync(KERNEL)));
      results.push(await bootQemu(image));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  console.log(`kernel ${KERNEL}, initramfs ${INITRD}, ${MEM}, 1 hart, append "${APPEND}"`);
  console.log("boot = start → 'tvisor: guest ready' on the console; total = start → exit after poweroff");
  console.log("| emulator | boot s | total s | instructions to ready | MIPS |");
  console.log("|---|---:|---:|---:|---:|");
  const ref = results.find((r) => r.name.includes("OpenSBI") && r.instructions !== null) ?? results[0];
  for (const r of results) {
    const insns = r.instructions ?? ref.instructions;
    const est = r.instructions === null ? " (est.)" : "";
    const mips = insns === null ? "n/a" : `${fmt(insns / r.bootSeconds / 1e6, 1)}${est}`;
    const count =
      r.instructions === null
        ? `~${(ref.instructions ?? 0).toLocaleString("en")} (est.)`
        : r.instructions.toLocaleString("en");
    console.log(`| ${r.name} | ${fmt(r.bootSeconds)} | ${fmt(r.totalSeconds)} | ${count} | ${mips} |`);
  }
  const qemu = results.find((r) => r.name.startsWith("qemu"));
  if (qemu) {
    for (const r of results.filter((x) => x !== qemu)) {
      console.log(`ratio ${r.name} / qemu boot time: ${fmt(r.bootSeconds / qemu.bootSeconds)}x`);
    }
    console.log(
      "QEMU's instruction count is not observable without TCG plugins (not shipped by Debian); its MIPS is estimated " +
        "from tvisor's count for the same firmware, kernel and initramfs.",
    );
  } else {
    console.log("qemu-system-riscv64 not installed: no QEMU comparison");
  }
}
