/** `tvisor run`: boot a virtual machine on the riscv-virt board with its console on stdio. */
/*
 * --console picks the device stdio is attached to. `uart` (default): the ns16550a and the SBI console
 * (console=ttyS0). `virtio`: a virtio console (virtio 1.2 §5.3) takes stdio's input and the guest's
 * console moves there (console=hvc1 unless --append says otherwise); the UART and SBI console keep
 * writing to stdout but get no input, as with QEMU's `-chardev stdio,mux=on` shared by `-serial` and
 * `-device virtconsole`: early boot messages stay visible and nothing the user types is split.
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { type Command, Option } from "commander";
import { FieldError, UserError } from "../base/errors.js";
import { runBareElf } from "../vmm/bare-program.js";
import { MAX_BOOT_FILE_BYTES } from "../vmm/boot-file-limit.js";
import { readBootFile } from "../vmm/node/boot-file.js";
import { hostClock, StdioConsole } from "../vmm/node/host-io.js";
import { createNodeHost } from "../vmm/node/node-host.js";
import { VirtualMachine } from "../vmm/vm.js";
import {
  DEFAULT_MEM_BYTES,
  type DiskSpec,
  type NicSpecInput,
  type VmSpec,
  validateVmSpec,
} from "../vmm/vm-spec.js";
import { parseNicFlag } from "./nic-flag.js";
import { parseConsoleDevice, parseCpus, parseDiskSpec, parseMemSize, toFlagError } from "./vm-flags.js";

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
  disk: DiskSpec[];
  nic: NicSpecInput[];
  name?: string;
  rng: boolean;
  balloon: boolean;
  reboot: boolean;
  console: string;
  jit: string;
  jitCacheSize?: string;
}

/**
 * Turn parsed flags into a validated VmSpec; with no --kernel the bundled kernel and initramfs are
 * used. Spec errors come back naming the flag.
 */
export function vmSpecFromFlags(f: RunFlags): VmSpec {
  const consoleDevice = parseConsoleDevice(f.console);
  let kernel = f.kernel;
  let initrd = f.initrd;
  if (kernel === undefined && f.bios === "builtin") {
    kernel = bundledImage("Image.gz");
    if (!existsSync(kernel))
      throw new UserError(
        `no bundled kernel at ${kernel}: build it (images/build-kernel.sh) or pass --kernel`,
      );
    if (initrd === undefined) initrd = bundledImage("initramfs.cpio.gz");
  }
  try {
    return validateVmSpec({
      kernel,
      initrd,
      // Without --append, the guest's console follows --console (see effectiveAppend).
      append: f.append,
      bios: f.bios,
      memBytes: f.mem === undefined ? DEFAULT_MEM_BYTES : parseMemSize(f.mem),
      cpus: parseCpus(f.cpus),
      disks: f.disk,
      nics: f.nic,
      name: f.name,
      console: consoleDevice,
      rng: f.rng,
      balloon: f.balloon,
      noReboot: !f.reboot,
      jit: f.jit,
      jitCacheSize: f.jitCacheSize === undefined ? undefined : Number(f.jitCacheSize),
    });
  } catch (e) {
    throw toFlagError(e);
  }
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
      "--jit <on|off|always>",
      "binary translation to WebAssembly: on (hot code), off (interpreter only), always (every block)",
      "on",
    )
    .option("--jit-cache-size <n>", "most translated regions kept per hart (default 8192)")
    .addOption(
      new Option("--disk <spec>", "virtio-blk disk PATH[,format=raw|qcow2][,readonly=on] (repeatable)")
        .argParser((v: string, prev: DiskSpec[]) => [...prev, parseDiskSpec(v)])
        .default([] as DiskSpec[], "none"),
    )
    .addOption(
      new Option(
        "--nic <spec>",
        "virtio-net NIC: user[,hostfwd=tcp:HOSTADDR:HOSTPORT-:GUESTPORT][,hostdns=ADDR] (NAT through passt), switch=NAME, " +
          "socket,listen|connect|mcast=HOST:PORT, stream,..., dgram,..., tap,ifname=NAME; " +
          "each [,mac=MAC][,pcap=FILE] (repeatable; QEMU's -nic syntax)",
      )
        .argParser((v: string, prev: NicSpecInput[]) => [...prev, parseNicFlag(v)])
        .default([] as NicSpecInput[], "none"),
    )
    .option("--name <name>", "the VM's name: default NIC MACs derive from it (stable across runs)")
    .option("--no-rng", "do not attach a virtio-rng device")
    .option("--no-balloon", "do not attach a virtio-balloon device (memory target, free page reporting)")
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
      try {
        process.exitCode = await runVm(flags);
      } catch (e) {
        throw toFlagError(e);
      }
    });
}

/** Run to completion; returns the process exit status. */
async function runVm(flags: RunFlags): Promise<number> {
  const spec = vmSpecFromFlags(flags);
  if (spec.bios === "none") return runBare(spec);
  let vm: VirtualMachine | null = null;
  // With --console virtio the VM attaches this console to the virtio console and mutes the UART's input.
  // A closed stdout (`tvisor run | head -1`) ends the run as Ctrl-A X does: nobody is reading the console.
  const console = new StdioConsole({ onQuit: () => vm?.stop(), onOutputClosed: () => vm?.stop() });
  try {
    vm = new VirtualMachine(
      spec,
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
    reportDroppedOutput(console);
  }
}

function reportDroppedOutput(console: StdioConsole): void {
  if (console.droppedOutput > 0)
    process.stderr.write(
      `tvisor: ${console.droppedOutput} bytes of console output dropped: stdout was not being read\n`,
    );
}

/** `--bios none`: a bare M-mode ELF with HTIF, as on Spike (the isa-tests runner). */
async function runBare(config: VmSpec): Promise<number> {
  // validateVmSpec requires a kernel with bios none.
  if (!config.kernel) throw new Error("bios none without a kernel passed validation");
  // A bare program's segments must fit its RAM, but its file may carry symbols and debug information:
  // the stated maximum, not RAM, bounds what is read.
  const elf = await readBootFile(
    config.kernel,
    "kernel",
    MAX_BOOT_FILE_BYTES,
    "the 1 GiB limit for boot files",
  );
  // Ctrl-A X (on a terminal, where Ctrl-C goes to the program) and a closed stdout end the run.
  const stop = new AbortController();
  const console = new StdioConsole({ onQuit: () => stop.abort(), onOutputClosed: () => stop.abort() });
  try {
    let r: Awaited<ReturnType<typeof runBareElf>>;
    try {
      r = await runBareElf({
        elf,
        memBytes: config.memBytes,
        console,
        clock: hostClock,
        harts: config.cpus,
        signal: stop.signal,
        jit: config.jit,
      });
    } catch (e) {
      // Name the file in loader errors ("not an ELF file", "ELF is for machine ...").
      if (e instanceof UserError && !(e instanceof FieldError))
        throw new UserError(`kernel: ${config.kernel}: ${e.message}`);
      throw e;
    }
    return r.exitCode === 0 ? 0 : Math.min(255, Math.max(1, r.exitCode));
  } finally {
    console.close();
    reportDroppedOutput(console);
  }
}
