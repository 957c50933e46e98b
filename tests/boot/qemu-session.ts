/** Interop-test harness: the bundled guest under qemu-system-riscv64 -M virt, driven over its serial console like GuestSession. */
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { cleanConsoleOutput, HANG_GUARD_MS, INITRD, KERNEL } from "./guest-session.js";

/** Why QEMU cannot be the peer here, or null when it can. */
export function missingQemu(): string | null {
  return spawnSync("qemu-system-riscv64", ["--version"]).status === 0
    ? null
    : "qemu-system-riscv64 not installed (Debian qemu-system-misc)";
}

/**
 * A guest in a child process (QEMU, or `tvisor run`) driven over the child's stdio console; `run` types a
 * command and returns what it printed (the marker protocol of GuestSession).
 */
export class ProcessSession {
  private out = "";
  private seq = 0;
  private waiters: Array<() => void> = [];
  private exited = false;

  constructor(private readonly child: ChildProcessWithoutNullStreams) {
    child.stdout.on("data", (d: Buffer) => this.feed(d.toString("latin1")));
    child.stderr.on("data", (d: Buffer) => this.feed(d.toString("latin1")));
    child.on("exit", () => {
      this.exited = true;
      this.feed("");
    });
  }

  /** Spawn `cmd args` and wait for the guest's shell prompt. */
  static async boot(cmd: string, args: string[], env?: NodeJS.ProcessEnv): Promise<ProcessSession> {
    const s = new ProcessSession(
      spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"], env: env ?? process.env }),
    );
    try {
      await s.waitForShell();
    } catch (e) {
      await s.close();
      throw e;
    }
    return s;
  }

  /** Wait for the shell prompt after boot (the guest's init prints "tvisor: guest ready" first). */
  waitForShell(): Promise<RegExpExecArray> {
    return this.waitFor(/tvisor: guest ready[\s\S]*# /, 0);
  }

  /** Everything the child printed so far. */
  get output(): string {
    return this.out;
  }

  async run(cmd: string): Promise<string> {
    const n = ++this.seq;
    // Type only at a prompt: ash echoes typeahead twice (as in GuestSession.run).
    await this.waitFor(/# (\x1b\[6n)?$/, Math.max(0, this.out.length - 64));
    const from = this.out.length;
    this.child.stdin.write(`echo __S""TART${n}__; ${cmd}; echo __E""ND${n}__\n`);
    const m = await this.waitFor(
      new RegExp(`\\n__START${n}__\\r?\\n([\\s\\S]*?)\\n?__END${n}__\\r?\\n`),
      from,
    );
    return cleanConsoleOutput(m[1]);
  }

  async close(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise((resolve) => this.child.once("exit", resolve));
    this.child.kill("SIGKILL");
    await gone;
  }

  private feed(s: string): void {
    this.out += s;
    if (process.env.TVISOR_BOOT_ECHO) process.stderr.write(s);
    for (const w of this.waiters.splice(0)) w();
  }

  /** Wait for `re` after `from`, failing at once if QEMU exits; HANG_GUARD_MS is only a hang guard. */
  private async waitFor(re: RegExp, from: number): Promise<RegExpExecArray> {
    const deadline = Date.now() + HANG_GUARD_MS;
    for (;;) {
      const m = re.exec(this.out.slice(from));
      if (m) return m;
      if (this.exited) throw new Error(`qemu exited; output tail:\n${this.out.slice(-1500)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`qemu: timed out waiting for ${re}; tail:\n${this.out.slice(-1500)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        timer.unref();
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
}

/** The bundled guest under qemu-system-riscv64 -M virt. */
export const QemuSession = {
  /**
   * Boot the bundled kernel and initramfs with `extra` arguments (devices, netdevs). QEMU 7.2 loads a
   * flat Image only, so the kernel is decompressed into `dir` first. Resolves at the shell prompt.
   */
  start(dir: string, extra: string[]): Promise<ProcessSession> {
    const image = join(dir, "qemu-Image");
    writeFileSync(image, gunzipSync(readFileSync(KERNEL)));
    const args = ["-M", "virt", "-m", "128M", "-smp", "1", "-nographic", "-monitor", "none"];
    args.push("-kernel", image, "-initrd", INITRD, "-append", "console=ttyS0", "-no-reboot", ...extra);
    return ProcessSession.boot("qemu-system-riscv64", args);
  },
};
