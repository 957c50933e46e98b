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
import {
  DEFAULT_APPEND,
  type DiskSpec,
  type NicBackendSpec,
  type VmSpecInput,
} from "../../src/vmm/vm-spec.js";

/**
 * A NIC of a test VM: its host side (attached) or a backend specification the VM opens itself
 * (`{ kind: "user" }`: passt), and optionally its MAC.
 */
export interface TestNic {
  backend?: NetBackend;
  spec?: NicBackendSpec;
  mac?: string;
  pcap?: string;
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

/*
 * Boot tests wait for what the guest prints, never for a time. These bounds are hang guards only: far
 * above what any boot or command takes on a loaded 2-core machine (a boot to the shell is ~10 s idle and
 * ~40 s with four other guests beside it), so they end a run that is stuck, never one that is slow.
 */
/** Hang guard for one wait: a boot to the shell, one command, one `tvisor` subprocess. */
export const HANG_GUARD_MS = 10 * 60_000;
/** node:test timeout of a boot test: above HANG_GUARD_MS, so the inner guard reports first, with output. */
export const BOOT_TEST_TIMEOUT_MS = 2 * HANG_GUARD_MS;

/** A console that records all guest output and lets the test type. */
export class TestConsole implements CharBackend {
  output = "";
  private handler: ((d: Uint8Array) => void) | null = null;
  private waiters: Array<() => void> = [];
  private readonly decoder = new TextDecoder();

  /** Resolves with the kernel's panic line when one appears (checked on each write's new text only). */
  readonly panicked: Promise<string>;
  private onPanic: (line: string) => void = () => {};
  private sawPanic = false;

  constructor() {
    this.panicked = new Promise((resolve) => {
      this.onPanic = resolve;
    });
  }

  write(data: Uint8Array): void {
    const before = this.output.length;
    this.output += this.decoder.decode(data, { stream: true });
    if (!this.sawPanic) {
      const m = /Kernel panic - not syncing[^\n]*/.exec(this.output.slice(Math.max(0, before - 64)));
      if (m) {
        this.sawPanic = true;
        this.onPanic(m[0]);
      }
    }
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
        // Unref'd: a wait that lost a race (the VM exited, the kernel panicked) must not keep the test
        // process alive until its guard expires.
        const t = setTimeout(resolve, left);
        t.unref();
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
  /** virtio-balloon free page reporting (VmSpec.freePageReporting); default on. */
  freePageReporting?: boolean;
  /** Binary translation (VmSpec.jit); default: the spec's default. */
  jit?: "on" | "off" | "always";
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
      nics: (opts.nics ?? []).map((n) => ({
        ...(n.mac === undefined ? {} : { mac: n.mac }),
        ...(n.spec === undefined ? {} : { backend: n.spec }),
        ...(n.pcap === undefined ? {} : { pcap: n.pcap }),
      })),
      vmIndex: opts.vmIndex,
      console: this.virtioConsole ? "virtio" : "uart",
      jit: opts.jit,
      freePageReporting: opts.freePageReporting,
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
      this.shell.waitFor(/tvisor: guest ready[\s\S]*# /, HANG_GUARD_MS, from),
      this.failOnExit(),
      this.failOnPanic(),
    ]);
  }

  /**
   * Type a command and return what it printed. Start and end markers are built by the shell
   * (`__S""TART`), so the echoed command line (which the tty may also wrap) never matches them.
   * Kernel log lines that land on the console meanwhile are dropped.
   */
  async run(cmd: string, timeoutMs = HANG_GUARD_MS): Promise<string> {
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
      this.failOnPanic(),
    ]);
    return cleanConsoleOutput(m[1]);
  }

  /** Type without waiting for an answer (poweroff, reboot). */
  type(text: string): void {
    this.shell.type(text);
  }

  /** Rejects as soon as the kernel panics on any console, so a broken boot fails now, not at the hang guard. */
  private failOnPanic(): Promise<never> {
    const consoles = [this.console, this.virtioConsole].filter((c): c is TestConsole => c !== null);
    return Promise.race(
      consoles.map((c) =>
        c.panicked.then((line) => {
          throw new Error(`guest kernel panic: ${line}; output:\n${c.output.slice(-1500)}`);
        }),
      ),
    );
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
  // Hang guard: a stuck run is killed, and its output so far is reported with a null status.
  const guard = setTimeout(() => child.kill("SIGKILL"), HANG_GUARD_MS);
  return new Promise((resolve) =>
    child.on("exit", (code) => {
      clearTimeout(guard);
      resolve({ code, out, err });
    }),
  );
}

/** A command's console output as plain lines: no CRs, no ANSI escapes, no interleaved kernel log lines. */
export function cleanConsoleOutput(text: string): string {
  return text
    .replace(/\r/g, "")
    .replace(/\x1b\[[0-9;]*[a-zA-Z]/g, "")
    .split("\n")
    .filter((l) => !/^\[\s*\d+\.\d+\] /.test(l))
    .join("\n");
}
