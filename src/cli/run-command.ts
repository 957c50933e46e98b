/** `tvisor run`: boot a virtual machine on the riscv-virt board with its console on stdio. */
/*
 * --console picks the device stdio is attached to. `uart` (default): the ns16550a and the SBI console
 * (console=ttyS0). `virtio`: a virtio console (virtio 1.2 §5.3) takes stdio's input and the guest's
 * console moves there (console=hvc1 unless --append says otherwise); the UART and SBI console keep
 * writing to stdout but get no input, as with QEMU's `-chardev stdio,mux=on` shared by `-serial` and
 * `-device virtconsole`: early boot messages stay visible and nothing the user types is split.
 */
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { type Command, Option } from "commander";
import { errorMessage, UserError } from "../base/errors.js";
import type { CharBackend } from "../io/char-backend.js";
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
  VIRTIO_CONSOLE_APPEND,
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
  reboot: boolean;
  console: string;
}

/** Which guest device stdio is attached to. */
export type ConsoleDevice = "uart" | "virtio";

/** --console uart|virtio. */
export function parseConsoleDevice(text: string): ConsoleDevice {
  if (text === "uart" || text === "virtio") return text;
  throw new UserError(`--console: expected uart or virtio, got "${text}"`);
}

/**
 * Turn parsed flags into a VmConfig; with no --kernel the bundled kernel and initramfs are used.
 * With --console virtio the caller attaches its stdio backend as `virtioConsole`.
 */
export function vmConfigFromFlags(f: RunFlags): VmConfig {
  const consoleDevice = parseConsoleDevice(f.console);
  if (consoleDevice === "virtio" && f.bios === "none")
    throw new UserError("--console virtio needs a Linux guest; --bios none programs use HTIF");
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
    // Without --append, the guest's console follows --console (hvc1 is the virtio port; see vm-config).
    append: f.append ?? (consoleDevice === "virtio" ? VIRTIO_CONSOLE_APPEND : undefined),
    bios: f.bios,
    memBytes: f.mem === undefined ? DEFAULT_MEM_BYTES : parseMemSize(f.mem),
    cpus: parseCpus(f.cpus),
    disks: f.disk,
    rng: f.rng,
    noReboot: !f.reboot,
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
    .addOption(
      new Option("--disk <spec>", "virtio-blk disk PATH[,format=raw|qcow2][,readonly=on] (repeatable)")
        .argParser((v: string, prev: DiskConfig[]) => [...prev, parseDiskSpec(v)])
        .default([] as DiskConfig[], "none"),
    )
    .option("--no-rng", "do not attach a virtio-rng device")
    .option(
      "--no-reboot",
      "exit (status 0) when the guest resets instead of rebooting it, as QEMU's -no-reboot",
    )
    .option(
      "--console <uart|virtio>",
      "device on stdio: uart (ns16550a, console=ttyS0) or virtio (virtio console, console=hvc1 unless " +
        "--append is given; the UART's output still goes to stdout, it gets no input)",
      "uart",
    )
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
    let serial: CharBackend = console;
    if (parseConsoleDevice(flags.console) === "virtio") {
      config.virtioConsole = console;
      // The UART and SBI console: output to stdout, no input (the virtio console receives it).
      serial = { write: (d) => console.write(d), onInput: () => {} };
    }
    vm = new VirtualMachine(
      config,
      createNodeHost(serial, (m) => process.stderr.write(`tvisor: ${m}\n`)),
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
      r = await runBareElf({ elf, memBytes: config.memBytes, console, clock: hostClock, harts: config.cpus });
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
