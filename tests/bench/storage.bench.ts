/** Storage figures: 4 KiB sequential and strided throughput through the block layer (raw, qcow2) next to `qemu-img bench`. */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import type { BlockBackend } from "../../src/io/block-backend.js";
import { createImageFile } from "../../src/storage/node/create-image.js";
import { openImage } from "../../src/storage/node/open-image.js";

const SIZE = 256 << 20;
const BS = 4096;
const COUNT = 16384; // 64 MiB per run
/** "Random" is a stride that visits scattered clusters in a fixed order, because qemu-img bench only strides. */
const STRIDE = (1 << 20) + BS;

/** Every figure is the median of this many runs, each on fresh files: the bench host is shared and noisy. */
const REPS = 3;

type Pattern = "seq" | "rand";

function median(xs: (number | null)[]): number | null {
  const v = xs.filter((x): x is number => x !== null).sort((a, b) => a - b);
  return v.length === 0 ? null : v[Math.floor(v.length / 2)]!;
}

function offsetOf(i: number, p: Pattern): number {
  return p === "seq" ? i * BS : (i * STRIDE) % SIZE;
}

async function ours(img: BlockBackend, write: boolean, p: Pattern): Promise<number> {
  const buf = new Uint8Array(BS).fill(0x5a);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < COUNT; i++) {
    if (write) await img.write(offsetOf(i, p), buf);
    else await img.read(offsetOf(i, p), buf);
  }
  if (write) await img.flush();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

function qemuBench(path: string, fmt: string, write: boolean, p: Pattern): number | null {
  const args = [
    "bench",
    "-f",
    fmt,
    "-c",
    String(COUNT),
    "-d",
    "1",
    "-s",
    String(BS),
    "-t",
    "writeback",
    "-q",
  ];
  if (p === "rand") args.push("-S", String(STRIDE));
  if (write) args.push("-w");
  args.push(path);
  const t0 = process.hrtime.bigint();
  const r = spawnSync("qemu-img", args, { encoding: "utf8" });
  if (r.status !== 0) return null;
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

function mibs(sec: number | null): string {
  return sec === null ? "n/a" : ((COUNT * BS) / (1 << 20) / sec).toFixed(1);
}

export async function bench(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "tvisor-bench-"));
  const haveQemu = spawnSync("qemu-img", ["--version"]).status === 0;
  try {
    // Warm up the JIT so the first measured run is not penalised.
    await createImageFile(join(dir, "warm.raw"), { format: "raw", size: SIZE });
    const warm = await openImage(join(dir, "warm.raw"));
    await ours(warm, true, "seq");
    await ours(warm, false, "rand");
    await warm.close();
    console.log(
      `4 KiB requests, ${COUNT} per run (64 MiB), ${SIZE >> 20} MiB images, queue depth 1, host page cache; ` +
        `median of ${REPS} runs (seconds); load average ${loadavg()[0]!.toFixed(2)}`,
    );
    console.log("format  pattern  op     tvisor MiB/s  qemu-img bench MiB/s");
    for (const fmt of ["raw", "qcow2"] as const) {
      for (const p of ["seq", "rand"] as Pattern[]) {
        const t: Record<"w" | "r" | "qw" | "qr", (number | null)[]> = { w: [], r: [], qw: [], qr: [] };
        for (let rep = 0; rep < REPS; rep++) {
          // Writes go to a fresh image, so qcow2 figures include cluster allocation; qemu-img gets a fresh
          // twin, then reads back what it wrote, as ours does.
          const a = join(dir, `a.${fmt}`);
          const b = join(dir, `b.${fmt}`);
          rmSync(a, { force: true });
          rmSync(b, { force: true });
          await createImageFile(a, { format: fmt, size: SIZE });
          await createImageFile(b, { format: fmt, size: SIZE });
          const img = await openImage(a, { format: fmt });
          t.w.push(await ours(img, true, p));
          t.r.push(await ours(img, false, p));
          await img.close();
          t.qw.push(haveQemu ? qemuBench(b, fmt, true, p) : null);
          t.qr.push(haveQemu ? qemuBench(b, fmt, false, p) : null);
        }
        console.log(
          `${fmt.padEnd(7)} ${p.padEnd(8)} write  ${mibs(median(t.w)).padStart(12)}  ${mibs(median(t.qw)).padStart(20)}`,
        );
        console.log(
          `${fmt.padEnd(7)} ${p.padEnd(8)} read   ${mibs(median(t.r)).padStart(12)}  ${mibs(median(t.qr)).padStart(20)}`,
        );
      }
    }
    console.log("qemu-img bench timings include its process start-up (about 20 ms).");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
