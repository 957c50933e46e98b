/** Boot-test harness: runs the bundled guest through the library API and drives its serial console. */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { CharBackend } from "../../src/io/char-backend.js";
import type { NetBackend } from "../../src/io/net-backend.js";
import { createNodeHost } from "../../src/vmm/node/node-host.js";
import { restoreVmFromFile } from "../../src/vmm/node/state-file.js";
import { VirtualMachine, type VmExit } from "../../src/vmm/vm.js";
import type { VmHost } from "../../src/vmm/vm-host.js";
import { DEFAULT_APPEND, type DiskSpec, type VmSpecInput } from "../../src/vmm/vm-spec.js";

/** A NIC of a test VM: its host side and optionally its MAC. */
export interface TestNic {
  backend: NetBackend;
  mac?: string;
}

export const KERNEL = fileURLToPath(new URL("../../../images/riscv64/Image.gz", import.meta.url));
export const INITRD = fileURLToPath(new URL("../../../images/riscv64/initramfs.cpio.gz", import.meta.url));
export const OPENSBI_DIR = "/usr/lib/riscv64-linux-gnu/opensbi/generic";

/** Why the bundled guest cannot be booted here, or null when it can. */
export function missingImages(): string | null {
  if (!existsSync(KERNEL) || !existsSync(INITRD))
    return "bundled guest not built (images/build-kernel.sh, images/build-initramfs.sh)";
  return null;
}

/** Budget for one boot to the shell: generous for a 2-core CI machine running two test files at once. */
export const BOOT_TIMEOUT_MS = 90_000;

/** A console that records all guest output and lets the test type. */
export class TestConsole implements CharBackend {
  output = "";
  private handler: ((d: Uint8Array) => void) | null = null;
  private waiters: Array<() => void> = [];
  private readonly decoder = new TextDecoder();

  write(data: Uint8Array): void {
    this.output += this.decoder.decode(data, { stream: true });
    if (process.env.TVISOR_BOOT_ECHO) process.stderr.write(data);
    for (const w of this.waiters.splice(0)) w();
  }

  onInput(handler: (data: Uint8Array) => void): void {
    this.handler = handler;
  }

  type(text: string): void {
    this.handler?.(new TextEncoder().encode(text));
  }

  /** Wait until `pattern` matches the output after `from`; returns the match. */
  async waitFor(pattern: RegExp, timeoutMs: number, from = 0): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = pattern.exec(this.output.slice(from));
      if (m) return m;
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(`timed out waiting for ${pattern}; last output:\n${this.output.slice(-1500)}`);
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }
}

export interface SessionOptions {
  cpus?: number;
  memMiB?: number;
  bios?: string;
  disks?: DiskSpec[];
  append?: string;
  /** Exit on guest reset instead of rebooting (QEMU's -no-reboot). */
  noReboot?: boolean;
  /** virtio-net NICs (after the disks, before the rng). */
  nics?: TestNic[];
  /** Distinguishes default MACs of VMs on one network. */
  vmIndex?: number;
  /** Do not run yet (restore a snapshot first, then start()). */
  deferStart?: boolean;
  /** Attach a virtio console backed by `virtioConsole` (a second TestConsole). */
  virtioConsole?: boolean;
  /** Which console run()/waitForShell()/type() drive: the UART's (default) or the virtio console's. */
  shellOn?: "uart" | "virtio";
}

/** One VM plus its console; `exit` resolves when the run ends. */
export class GuestSession {
  readonly console = new TestConsole();
  /** The virtio console's host side, when the session has one. */
  readonly virtioConsole: TestConsole | null;
  /** The console the shell is driven through (console or virtioConsole). */
  readonly shell: TestConsole;
  vm: VirtualMachine;
  exit: Promise<VmExit>;
  /** The host services the VM was built with (console, clock, disks). */
  readonly host: VmHost;
  private seq = 0;

  constructor(opts: SessionOptions = {}) {
    this.virtioConsole = opts.virtioConsole || opts.shellOn === "virtio" ? new TestConsole() : null;
    this.shell = opts.shellOn === "virtio" && this.virtioConsole ? this.virtioConsole : this.console;
    const spec: VmSpecInput = {
      kernel: KERNEL,
      initrd: INITRD,
      // A virtio console on its own backend keeps the shell on ttyS0 unless the test says otherwise.
      append: opts.append ?? (this.virtioConsole ? DEFAULT_APPEND : undefined),
      bios: opts.bios ?? "builtin",
      memBytes: (opts.memMiB ?? 128) * 1024 * 1024,
      cpus: opts.cpus ?? 1,
      disks: opts.disks ?? [],
      rng: true,
      noReboot: opts.noReboot,
      nics: (opts.nics ?? []).map((n) => (n.mac === undefined ? {} : { mac: n.mac })),
      vmIndex: opts.vmIndex,
      console: this.virtioConsole ? "virtio" : "uart",
    };
    this.host = createNodeHost(this.console, (m) => process.stderr.write(`tvisor: ${m}\n`));
    this.vm = new VirtualMachine(spec, this.host, {
      nics: opts.nics?.map((n) => n.backend),
      virtioConsole: this.virtioConsole ?? undefined,
    });
    this.exit = opts.deferStart ? Promise.resolve<VmExit>({ kind: "stopped" }) : this.vm.run();
    // Surface a crash of the run loop in whichever wait is pending.
    this.exit.catch(() => {});
  }

  /**
   * Replace a deferStart session's (unstarted) VM with one restored from a state file, on this
   * session's console; start() then continues it.
   */
  async restoreFromFile(path: string): Promise<void> {
    await this.vm.close();
    this.vm = await restoreVmFromFile(path, this.host);
  }

  /** Run a VM created with deferStart (e.g. after vm.restore()). */
  start(): void {
    this.exit = this.vm.resume();
    this.exit.catch(() => {});
  }

  /** Wait for the shell prompt after boot (the guest's init prints "tvisor: guest ready" first). */
  async waitForShell(from = 0): Promise<void> {
    await Promise.race([
      this.shell.waitFor(/tvisor: guest ready[\s\S]*# /, BOOT_TIMEOUT_MS, from),
      this.failOnExit(),
    ]);
  }

  /**
   * Type a command and return what it printed. Start and end markers are built by the shell
   * (`__S""TART`), so the echoed command line (which the tty may also wrap) never matches them.
   * Kernel log lines that land on the console meanwhile are dropped.
   */
  async run(cmd: string, timeoutMs = 30_000): Promise<string> {
    const n = ++this.seq;
    // Type only at a prompt: typeahead is echoed twice (by the tty, then by ash's line editor).
    await this.shell.waitFor(/# (\x1b\[6n)?$/, timeoutMs, Math.max(0, this.shell.output.length - 64));
    const from = this.shell.output.length;
    this.shell.type(`echo __S""TART${n}__; ${cmd}; echo __E""ND${n}__\n`);
    const m = await Promise.race([
      this.shell.waitFor(
        new RegExp(`\\n__START${n}__\\r?\\n([\\s\\S]*?)\\n?__END${n}__\\r?\\n`),
        timeoutMs,
        from,
      ),
      this.failOnExit(),
    ]);
    return m[1]
      .replace(/\r/g, "")
      .replace(/\x1b\[[0-9;]*[a-zA-Z]/g, "")
      .split("\n")
      .filter((l) => !/^\[\s*\d+\.\d+\] /.test(l))
      .join("\n");
  }

  /** Type without waiting for an answer (poweroff, reboot). */
  type(text: string): void {
    this.shell.type(text);
  }

  private failOnExit(): Promise<never> {
    return this.exit.then((e) => {
      throw new Error(
        `VM exited (${JSON.stringify(e)}) while waiting; output:\n${this.shell.output.slice(-1500)}`,
      );
    });
  }

  async close(): Promise<void> {
    this.vm.stop();
    await this.exit.catch(() => {});
    await this.vm.close();
  }
}

/** The CLI entry point in dist/, for tests that run `tvisor` as a subprocess. */
export const TVISOR_CLI = fileURLToPath(new URL("../../src/bin/tvisor.js", import.meta.url));

/**
 * Run `tvisor` with `args` on pipes; once the guest's shell prompt appears, type `script` at once, as a
 * shell script piping into tvisor would. Resolves with the exit status and everything printed.
 */
export function runCliSession(
  args: string[],
  script: string,
): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(process.execPath, [TVISOR_CLI, ...args], { stdio: ["pipe", "pipe", "pipe"] });
  let out = "";
  let err = "";
  let sent = false;
  child.stdout.on("data", (d: Buffer) => {
    out += d.toString();
    if (!sent && /guest ready[\s\S]*# /.test(out)) {
      sent = true;
      child.stdin.write(script);
    }
  });
  child.stderr.on("data", (d: Buffer) => {
    err += d.toString();
  });
  return new Promise((resolve) => child.on("exit", (code) => resolve({ code, out, err })));
}
