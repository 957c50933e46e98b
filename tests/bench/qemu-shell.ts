/** qemu-system-riscv64 -M virt as the benchmarks' reference, driven over its serial console like a tvisor guest. */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { INITRD } from "../boot/guest-session.js";

/** A guest shell a workload can type commands into. */
export interface Shell {
  run(cmd: string, timeoutMs: number): Promise<string>;
  close(): Promise<void>;
}

const QEMU_BOOT_MS = 120_000;

/** qemu-system-riscv64 -M virt driven over its serial console with the same marker protocol. */
export class QemuShell implements Shell {
  private out = "";
  private seq = 0;
  private waiters: Array<() => void> = [];
  private exited = false;

  private constructor(private readonly child: ChildProcessWithoutNullStreams) {
    child.stdout.on("data", (d: Buffer) => this.feed(d.toString("latin1")));
    child.stderr.on("data", (d: Buffer) => this.feed(d.toString("latin1")));
    child.on("exit", () => {
      this.exited = true;
      this.feed("");
    });
  }

  /** Boot the bundled initramfs with a flat kernel Image (QEMU 7.2 loads no Image.gz) and `extra` arguments. */
  static async start(kernelImage: string, extra: string[] = []): Promise<QemuShell> {
    const args = ["-M", "virt", "-m", "128M", "-smp", "1", "-nographic", "-kernel", kernelImage];
    args.push("-initrd", INITRD, "-append", "console=ttyS0", "-device", "virtio-rng-device");
    args.push(...extra, "-no-reboot");
    const sh = new QemuShell(spawn("qemu-system-riscv64", args, { stdio: ["pipe", "pipe", "pipe"] }));
    await sh.waitFor(/tvisor: guest ready[\s\S]*# /, QEMU_BOOT_MS, 0);
    return sh;
  }

  /** The QEMU process id (host CPU accounting). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  private feed(s: string): void {
    this.out += s;
    for (const w of this.waiters.splice(0)) w();
  }

  private async waitFor(re: RegExp, ms: number, from: number): Promise<RegExpExecArray> {
    const deadline = Date.now() + ms;
    for (;;) {
      const m = re.exec(this.out.slice(from));
      if (m) return m;
      if (this.exited) throw new Error(`qemu exited; output tail:\n${this.out.slice(-1000)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`qemu: timed out waiting for ${re}; tail:\n${this.out.slice(-1000)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  async run(cmd: string, ms: number): Promise<string> {
    const n = ++this.seq;
    // Type only at a prompt, as tests/boot/guest-session.ts does (ash echoes typeahead twice).
    await this.waitFor(/# (\x1b\[6n)?$/, ms, Math.max(0, this.out.length - 64));
    const from = this.out.length;
    this.child.stdin.write(`echo __S""TART${n}__; ${cmd}; echo __E""ND${n}__\n`);
    const m = await this.waitFor(
      new RegExp(`\\n__START${n}__\\r?\\n([\\s\\S]*?)\\n?__END${n}__\\r?\\n`),
      ms,
      from,
    );
    return m[1].replace(/\r/g, "").replace(/\x1b\[[0-9;]*[a-zA-Z]/g, "");
  }

  async close(): Promise<void> {
    if (!this.exited) {
      this.child.kill("SIGKILL");
      await new Promise((resolve) => this.child.once("exit", resolve));
    }
  }
}
