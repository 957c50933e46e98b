/** `tvisor run`: boot a virtual machine on the riscv-virt board with its console on stdio. */
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Command } from "commander";
import { errorMessage, UserError } from "../base/errors.js";
import { hostClock } from "../io/node/clock.js";
import { StdioConsole } from "../io/node/stdio-console.js";
import { runBareElf } from "../machine/bare-runner.js";
import { createNodeHost } from "../vmm/node/node-host.js";
import { VirtualMachine } from "../vmm/vm.js";
import {
  DEFAULT_MEM_BYTES,
  type DiskConfig,
  parseCpus,
  parseDiskSpec,
  parseMemSize,
  type VmConfig,
} from "../vmm/vm-config.js";

/** The bundled guest (images/riscv64), relative to dist/src/cli/ and to src/cli/. */
export function bundledImage(name: string): string {
  return fileURLToPath(new URL(`../../../images/riscv64/${name}`, import.meta.url));
}

interface RunFlags {
  kernel?: string;
  initrd?: string;
  append?: string;
  bios: string;
  mem?: string;
  cpus: string;
  disk: DiskConfig[];
  rng: boolean;
}

/** Turn parsed flags into a VmConfig; with no --kernel the bundled kernel and initramfs are used. */
export function vmConfigFromFlags(f: RunFlags): VmConfig {
  let kernel = f.kernel;
  let initrd = f.initrd;
  if (kernel === undefined && f.bios !== "none") {
    kernel = bundledImage("Image.gz");
    if (!existsSync(kernel))
      throw new UserError(
        `no bundled kernel at ${kernel}: build it (images/build-kernel.sh) or pass --kernel`,
      );
    if (initrd === undefined) initrd = bundledImage("initramfs.cpio.gz");
  }
  return {
    kernel,
    initrd,
    append: f.append,
    bios: f.bios,
    memBytes: f.mem === undefined ? DEFAULT_MEM_BYTES : parseMemSize(f.mem),
    cpus: parseCpus(f.cpus),
    disks: f.disk,
    rng: f.rng,
  };
}

export function registerRunCommand(program: Command): void {
  program
    .command("run")
    .description("run a RISC-V virtual machine (riscv-virt board); the console is on stdio, Ctrl-A X quits")
    .option("--kernel <path>", "Linux kernel (Image or Image.gz); with --bios none, a bare ELF program")
    .option("--initrd <path>", "initramfs (cpio, optionally gzip-compressed)")
    .option("--append <cmdline>", "kernel command line")
    .option(
      "--bios <builtin|none|path>",
      "firmware: builtin SBI, none (bare program), or an M-mode image",
      "builtin",
    )
    .option("--mem <size>", "RAM size, e.g. 256M or 1G (default 256M)")
    .option("--cpus <n>", "number of harts (1-8)", "1")
    .option(
      "--disk <spec>",
      "virtio-blk disk PATH[,format=raw|qcow2][,readonly=on] (repeatable)",
      (v: string, prev: DiskConfig[]) => [...prev, parseDiskSpec(v)],
      [] as DiskConfig[],
    )
    .option("--no-rng", "do not attach a virtio-rng device")
    .action(async (flags: RunFlags) => {
      process.exitCode = await runVm(flags);
    });
}

/** Run to completion; returns the process exit status. */
async function runVm(flags: RunFlags): Promise<number> {
  const config = vmConfigFromFlags(flags);
  if (config.bios === "none") return runBare(config);
  let vm: VirtualMachine | null = null;
  const console = new StdioConsole({ onQuit: () => vm?.stop() });
  try {
    vm = new VirtualMachine(
      config,
      createNodeHost(console, (m) => process.stderr.write(`tvisor: ${m}\n`)),
    );
    await vm.prepare();
    const exit = await vm.run();
    if (exit.kind === "fail") {
      process.stderr.write(`tvisor: guest reported failure (code ${exit.code})\n`);
      return exit.code === 0 ? 1 : Math.min(exit.code, 255);
    }
    return 0;
  } finally {
    console.close();
    await vm?.close();
  }
}

/** `--bios none`: a bare M-mode ELF with HTIF, as on Spike (the isa-tests runner). */
async function runBare(config: VmConfig): Promise<number> {
  if (!config.kernel) throw new UserError("--bios none needs --kernel PATH (an ELF program)");
  let elf: Uint8Array;
  try {
    elf = readFileSync(config.kernel);
  } catch (e) {
    throw new UserError(`kernel: cannot read ${config.kernel}: ${errorMessage(e)}`);
  }
  const console = new StdioConsole();
  try {
    let r: Awaited<ReturnType<typeof runBareElf>>;
    try {
      r = await runBareElf({ elf, memBytes: config.memBytes, console, clock: hostClock });
    } catch (e) {
      // Name the file in loader errors ("not an ELF file", "ELF is for machine ...").
      if (e instanceof UserError) throw new UserError(`kernel: ${config.kernel}: ${e.message}`);
      throw e;
    }
    return r.exitCode === 0 ? 0 : Math.min(255, Math.max(1, r.exitCode));
  } finally {
    console.close();
  }
}
