/**
 * Live migration figures: total time, rounds, bytes and downtime for an idle guest and for one dirtying
 * 1 MiB of memory ten times a second, between two tvisor daemons over loopback, and the same guest under
 * QEMU TCG migrating itself (`-incoming tcp:` and QMP `migrate`, its defaults: 300 ms downtime limit,
 * its own bandwidth limit) in the same run. Then `--copy-storage`: a guest with a 64 MiB qcow2 disk (ext2,
 * 16 MiB of file data) migrated idle, and back while a shell loop appends a line to a file on that disk
 * and syncs after each (every write mirrored); `COPY_STORAGE_ONLY=1` runs just that part.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import { TVISOR_CLI } from "../boot/guest-session.js";
import { ConsoleClient, TestDaemon } from "../daemon/harness.js";

const KERNEL = fileURLToPath(new URL("../../../images/riscv64/Image.gz", import.meta.url));
const INITRD = fileURLToPath(new URL("../../../images/riscv64/initramfs.cpio.gz", import.meta.url));
const MEM_MIB = 256;
const READY = "tvisor: guest ready";
/** 16 × 64 KiB rewritten in a tmpfs file, then 100 ms asleep: ~10 MiB/s over a 1 MiB working set. */
const DIRTY_LOOP =
  "(while true; do dd if=/dev/zero of=/tmp/blob bs=64k count=16 conv=notrunc 2>/dev/null; usleep 100000; done) >/dev/null 2>&1 & true";

interface Figure {
  engine: string;
  load: string;
  totalMs: number;
  downtimeMs: number;
  rounds: number;
  mib: number;
}

function row(f: Figure): string {
  return `| ${f.engine} | ${f.load} | ${Math.round(f.totalMs)} | ${Math.round(f.downtimeMs)} | ${f.rounds} | ${f.mib.toFixed(1)} |`;
}

async function tvisorFigures(): Promise<Figure[]> {
  const a = new TestDaemon();
  const b = new TestDaemon();
  const out: Figure[] = [];
  try {
    await a.start();
    await b.start();
    const tokenA = readFileSync(join(a.stateDir, "token"), "utf8").trim();
    const tokenB = readFileSync(join(b.stateDir, "token"), "utf8").trim();
    const r = await a.call("POST", "/v1/vms", { name: "m", memBytes: MEM_MIB << 20 });
    if (r.status !== 201) throw new Error(JSON.stringify(r.body));
    await a.call("POST", "/v1/vms/m/start");
    const c = await ConsoleClient.open(a.socketPath, "m");
    await c.waitForShell();
    c.close();
    const migrate = async (from: TestDaemon, to: TestDaemon, token: string, load: string) => {
      const res = await from.call("POST", "/v1/vms/m/migrate", { to: `127.0.0.1:${to.tcpPort}`, token });
      if (res.status !== 200) throw new Error(`migrate: ${JSON.stringify(res.body)}`);
      const rep = res.body as { totalMs: number; downtimeMs: number; rounds: number; bytes: number };
      out.push({
        engine: "tvisor (JIT on)",
        load,
        totalMs: rep.totalMs,
        downtimeMs: rep.downtimeMs,
        rounds: rep.rounds,
        mib: rep.bytes / 1048576,
      });
    };
    await migrate(a, b, tokenB, "idle");
    const d = await ConsoleClient.open(b.socketPath, "m");
    d.type("\n");
    await d.run(DIRTY_LOOP);
    await new Promise((res) => setTimeout(res, 2000));
    d.close();
    await migrate(b, a, tokenA, "dirtying 10 MiB/s");
  } finally {
    await a.dispose();
    await b.dispose();
  }
  return out;
}

interface StorageFigure {
  load: string;
  totalMs: number;
  downtimeMs: number;
  rounds: number;
  mib: number;
  diskMib: number;
  chunksAtStop: number;
}

/** The guest's shell loop for the "writing" case: one line appended and synced (a virtio flush) at a time. */
const DISK_LOOP =
  "(i=0; while true; do i=$((i + 1)); echo $i >> /mnt/d/log; sync; done) >/dev/null 2>&1 & true";

async function copyStorageFigures(): Promise<StorageFigure[]> {
  const a = new TestDaemon();
  const b = new TestDaemon();
  const out: StorageFigure[] = [];
  try {
    await a.start();
    await b.start();
    const tokenA = readFileSync(join(a.stateDir, "token"), "utf8").trim();
    const tokenB = readFileSync(join(b.stateDir, "token"), "utf8").trim();
    const disk = join(a.stateDir, "data.qcow2");
    const made = spawnSync(process.execPath, [TVISOR_CLI, "image", "create", "-f", "qcow2", disk, "64M"]);
    if (made.status !== 0) throw new Error(`image create: ${made.stderr}`);
    const r = await a.call("POST", "/v1/vms", {
      name: "s",
      memBytes: MEM_MIB << 20,
      disks: [{ path: disk, format: "qcow2" }],
    });
    if (r.status !== 201) throw new Error(JSON.stringify(r.body));
    await a.call("POST", "/v1/vms/s/start");
    const c = await ConsoleClient.open(a.socketPath, "s");
    await c.waitForShell();
    await c.run("mkfs.ext2 -q /dev/vda && mkdir -p /mnt/d && mount /dev/vda /mnt/d");
    // 256 KiB of random bytes, 64 times (generating 16 MiB in the emulated guest would take minutes).
    await c.run(
      "dd if=/dev/urandom of=/tmp/one bs=64k count=4 2>/dev/null; i=0; while [ $i -lt 64 ]; do cat /tmp/one; i=$((i + 1)); done > /mnt/d/fill && sync",
    );
    c.close();
    const migrate = async (from: TestDaemon, to: TestDaemon, token: string, load: string) => {
      const res = await from.call("POST", "/v1/vms/s/migrate", {
        to: `127.0.0.1:${to.tcpPort}`,
        token,
        copyStorage: true,
      });
      if (res.status !== 200) throw new Error(`migrate: ${JSON.stringify(res.body)}`);
      const rep = res.body as {
        totalMs: number;
        downtimeMs: number;
        rounds: number;
        bytes: number;
        diskBytes: number;
        diskChunksAtStop: number;
      };
      out.push({
        load,
        totalMs: rep.totalMs,
        downtimeMs: rep.downtimeMs,
        rounds: rep.rounds,
        mib: rep.bytes / 1048576,
        diskMib: rep.diskBytes / 1048576,
        chunksAtStop: rep.diskChunksAtStop,
      });
    };
    await migrate(a, b, tokenB, "idle, 16 MiB file on the disk");
    const d = await ConsoleClient.open(b.socketPath, "s");
    d.type("\n");
    await d.run(DISK_LOOP);
    await new Promise((res) => setTimeout(res, 2000));
    d.close();
    await migrate(b, a, tokenA, "appending + sync to a disk file");
  } finally {
    await a.dispose();
    await b.dispose();
  }
  return out;
}

async function printCopyStorage(): Promise<void> {
  console.log(`\n--copy-storage: ${MEM_MIB} MiB guest, 64 MiB qcow2 disk (ext2, 16 MiB file); loopback`);
  console.log(
    "| guest | total ms | downtime ms | rounds | MiB sent | of which disk MiB | disk chunks at stop |",
  );
  console.log("|---|---|---|---|---|---|---|");
  for (const f of await copyStorageFigures())
    console.log(
      `| ${f.load} | ${Math.round(f.totalMs)} | ${Math.round(f.downtimeMs)} | ${f.rounds} | ${f.mib.toFixed(1)} | ${f.diskMib.toFixed(1)} | ${f.chunksAtStop} |`,
    );
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      s.close(() => resolve(typeof a === "object" && a ? a.port : 0));
    });
  });
}

/** A minimal QMP client (QEMU docs/interop/qmp-spec): one JSON object per line. */
class Qmp {
  private buf = "";
  private waiters: Array<(v: Record<string, unknown>) => void> = [];
  private constructor(private readonly sock: ReturnType<typeof connect>) {
    sock.on("data", (d: Buffer) => {
      this.buf += d.toString();
      for (;;) {
        const i = this.buf.indexOf("\n");
        if (i < 0) break;
        const line = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 1);
        const v = JSON.parse(line) as Record<string, unknown>;
        if ("return" in v || "error" in v) this.waiters.shift()?.(v);
      }
    });
  }
  static async open(path: string): Promise<Qmp> {
    for (let i = 0; i < 200 && !existsSync(path); i++) await new Promise((r) => setTimeout(r, 100));
    const sock = connect(path);
    await new Promise((r) => sock.once("connect", r));
    const q = new Qmp(sock);
    await q.cmd("qmp_capabilities");
    return q;
  }
  cmd(execute: string, args?: unknown): Promise<Record<string, unknown>> {
    return new Promise((resolve) => {
      this.waiters.push(resolve);
      this.sock.write(`${JSON.stringify(args === undefined ? { execute } : { execute, arguments: args })}\n`);
    });
  }
  close(): void {
    this.sock.destroy();
  }
}

async function qemuFigure(image: string, dir: string, load: "idle" | "dirty"): Promise<Figure> {
  const port = await freePort();
  const base = ["-M", "virt", "-m", `${MEM_MIB}M`, "-smp", "1", "-display", "none", "-kernel", image];
  base.push("-initrd", INITRD, "-append", "console=ttyS0", "-device", "virtio-rng-device");
  const srcQmp = join(dir, `src-${load}.qmp`);
  const procs: ChildProcess[] = [];
  try {
    const src = spawn("qemu-system-riscv64", [
      ...base,
      "-serial",
      "stdio",
      "-qmp",
      `unix:${srcQmp},server=on,wait=off`,
    ]);
    const dst = spawn("qemu-system-riscv64", [
      ...base,
      "-serial",
      "null",
      "-incoming",
      `tcp:127.0.0.1:${port}`,
    ]);
    procs.push(src, dst);
    let out = "";
    src.stdout?.on("data", (d: Buffer) => (out += d.toString("latin1")));
    for (let i = 0; !out.includes(READY); i++) {
      if (i > 6000) throw new Error("qemu guest did not boot");
      await new Promise((r) => setTimeout(r, 100));
    }
    await new Promise((r) => setTimeout(r, 1000));
    if (load === "dirty") {
      src.stdin?.write(`${DIRTY_LOOP}\n`);
      await new Promise((r) => setTimeout(r, 2000));
    }
    const q = await Qmp.open(srcQmp);
    await q.cmd("migrate", { uri: `tcp:127.0.0.1:${port}` });
    let info: Record<string, unknown> = {};
    for (let i = 0; i < 6000; i++) {
      info = (await q.cmd("query-migrate")).return as Record<string, unknown>;
      if (info.status === "completed" || info.status === "failed") break;
      await new Promise((r) => setTimeout(r, 50));
    }
    q.close();
    if (info.status !== "completed") throw new Error(`qemu migration ${String(info.status)}`);
    const ram = info.ram as { transferred: number; "dirty-sync-count": number };
    return {
      engine: "QEMU 7.2 TCG",
      load: load === "idle" ? "idle" : "dirtying 10 MiB/s",
      totalMs: info["total-time"] as number,
      downtimeMs: info.downtime as number,
      rounds: ram["dirty-sync-count"],
      mib: ram.transferred / 1048576,
    };
  } finally {
    for (const p of procs) p.kill("SIGKILL");
  }
}

export async function bench(): Promise<void> {
  if (!existsSync(KERNEL) || !existsSync(INITRD)) {
    console.log("skipped: bundled guest not built");
    return;
  }
  if (process.env.COPY_STORAGE_ONLY) {
    await printCopyStorage();
    return;
  }
  console.log(`guest: ${MEM_MIB} MiB, 1 vCPU, the bundled kernel + initramfs; loopback`);
  console.log("| engine | guest | total ms | downtime ms | rounds | MiB sent |");
  console.log("|---|---|---|---|---|---|");
  for (const f of await tvisorFigures()) console.log(row(f));
  const dir = mkdtempSync(join(tmpdir(), "tvisor-mig-bench-"));
  try {
    const image = join(dir, "Image");
    writeFileSync(image, gunzipSync(readFileSync(KERNEL)));
    for (const load of ["idle", "dirty"] as const) {
      try {
        console.log(row(await qemuFigure(image, dir, load)));
      } catch (e) {
        console.log(`| QEMU 7.2 TCG | ${load} | not measured: ${(e as Error).message} | | | |`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  await printCopyStorage();
}
