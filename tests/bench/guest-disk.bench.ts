/**
 * In-guest disk figures: the bundled Linux guest runs the same busybox `dd` workload on a virtio-blk disk
 * (raw, then qcow2) under tvisor and under qemu-system-riscv64 -M virt (TCG), timed with the guest's own
 * clock; `qemu-img bench` runs on the same files afterwards for reference.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { createImageFile } from "../../src/storage/node/create-image.js";
import { GuestSession, KERNEL, missingImages } from "../boot/guest-session.js";
import { QemuShell, type Shell } from "./qemu-shell.js";

const DISK_MIB = 64;
/** 4 KiB blocks on the disk; the random offsets are (i * RAND_STEP) mod this. */
const BLOCKS = (DISK_MIB << 20) / 4096;
/** A prime stride of ~31 MiB, so consecutive requests land in different qcow2 clusters and L2 ranges. */
const RAND_STEP = 7919;
/** Requests of the single-process 4 KiB runs (dd issues them one after another: queue depth 1). */
const SEQ4K_COUNT = 2048;
/** Requests of the dd-per-request random runs (each one costs a fork+exec in the guest). */
const RAND_COUNT = 200;
const CMD_MS = 300_000;

/**
 * Shell helpers typed into the guest once. `t` prints the guest's monotonic clock in ns (the "now at"
 * line of /proc/timer_list; /proc/uptime's 10 ms ticks otherwise). Every timed command prints the elapsed
 * ns, or FAIL when dd failed, so a broken disk cannot pass as a fast one.
 */
const SETUP = [
  "t() { if [ -r /proc/timer_list ]; then grep -m1 'now at' /proc/timer_list | cut -d' ' -f3; " +
    "else awk '{printf \"%d\\n\", $1*1000000000}' /proc/uptime; fi; }",
  'tm() { a=$(t); "$@" 2>/dev/null || { echo FAIL; return; }; b=$(t); echo $((b-a)); }',
  `rw() { i=0; while [ $i -lt ${RAND_COUNT} ]; do dd if=/dev/zero of=/dev/vda bs=4k count=1 ` +
    `seek=$(( (i*${RAND_STEP}) % ${BLOCKS} )) oflag=direct || return 1; i=$((i+1)); done; }`,
  `rr() { i=0; while [ $i -lt ${RAND_COUNT} ]; do dd if=/dev/vda of=/dev/null bs=4k count=1 ` +
    `skip=$(( (i*${RAND_STEP}) % ${BLOCKS} )) iflag=direct || return 1; i=$((i+1)); done; }`,
  // The same loop without disk I/O: what a dd process costs on its own, subtracted from rw/rr.
  `rc() { i=0; while [ $i -lt ${RAND_COUNT} ]; do dd if=/dev/zero of=/dev/null bs=4k count=1 ` +
    `skip=$(( (i*${RAND_STEP}) % ${BLOCKS} )) || return 1; i=$((i+1)); done; }`,
];

const CONTROL_BEFORE = "dd per request, no I/O (control, before)";
const CONTROL_AFTER = "dd per request, no I/O (control, after)";

/** Workload steps, in order: the sequential write fills the disk, so later writes are overwrites. */
const STEPS: { key: string; cmd: string; bytes: number; ops: number }[] = [
  {
    key: "seq 1 MiB write (O_DIRECT + fsync)",
    cmd: `tm dd if=/dev/zero of=/dev/vda bs=1M count=${DISK_MIB} oflag=direct conv=fsync`,
    bytes: DISK_MIB << 20,
    ops: DISK_MIB,
  },
  {
    key: "seq 1 MiB read (O_DIRECT)",
    cmd: `tm dd if=/dev/vda of=/dev/null bs=1M count=${DISK_MIB} iflag=direct`,
    bytes: DISK_MIB << 20,
    ops: DISK_MIB,
  },
  {
    key: "seq 4 KiB write (O_DIRECT, QD1)",
    cmd: `tm dd if=/dev/zero of=/dev/vda bs=4k count=${SEQ4K_COUNT} oflag=direct`,
    bytes: SEQ4K_COUNT * 4096,
    ops: SEQ4K_COUNT,
  },
  {
    key: "seq 4 KiB read (O_DIRECT, QD1)",
    cmd: `tm dd if=/dev/vda of=/dev/null bs=4k count=${SEQ4K_COUNT} iflag=direct`,
    bytes: SEQ4K_COUNT * 4096,
    ops: SEQ4K_COUNT,
  },
  // The control loop runs before and after the random ones; their mean is subtracted (the host is noisy).
  { key: CONTROL_BEFORE, cmd: "tm rc", bytes: 0, ops: RAND_COUNT },
  { key: "rand 4 KiB write, dd per request", cmd: "tm rw", bytes: RAND_COUNT * 4096, ops: RAND_COUNT },
  { key: "rand 4 KiB read, dd per request", cmd: "tm rr", bytes: RAND_COUNT * 4096, ops: RAND_COUNT },
  { key: CONTROL_AFTER, cmd: "tm rc", bytes: 0, ops: RAND_COUNT },
];

/** Seconds of one control loop: the mean of the runs before and after the random I/O. */
function control(f: Figures): number {
  return ((f.get(CONTROL_BEFORE) ?? 0) + (f.get(CONTROL_AFTER) ?? 0)) / 2;
}

type Figures = Map<string, number>;

/** Run the workload; returns seconds per step. */
async function workload(sh: Shell): Promise<Figures> {
  for (const s of SETUP) await sh.run(s, CMD_MS);
  const out: Figures = new Map();
  for (const step of STEPS) {
    const text = (await sh.run(step.cmd, CMD_MS)).trim();
    const ns = /^(\d+)$/m.exec(text);
    if (!ns || text.includes("FAIL")) throw new Error(`guest step "${step.key}" failed: ${text}`);
    out.set(step.key, Number(ns[1]) / 1e9);
  }
  return out;
}

/** tvisor through the library (the harness the boot tests use). */
async function tvisorShell(path: string, format: "raw" | "qcow2"): Promise<Shell> {
  const s = new GuestSession({ disks: [{ path, format, readOnly: false }], memMiB: 128, cpus: 1 });
  await s.waitForShell();
  return { run: (c, ms) => s.run(c, ms), close: () => s.close() };
}

async function measure(open: () => Promise<Shell>): Promise<Figures> {
  const sh = await open();
  try {
    return await workload(sh);
  } finally {
    await sh.close();
  }
}

/** `qemu-img bench` at queue depth 1 on the file the guests used; MiB/s, or null if it failed. */
function qemuImgBench(path: string, format: string, write: boolean, stride: boolean): number | null {
  const count = BLOCKS;
  const args = ["bench", "-f", format, "-c", String(count), "-d", "1", "-s", "4096", "-t", "writeback", "-q"];
  if (stride) args.push("-S", String(RAND_STEP * 4096));
  if (write) args.push("-w");
  args.push(path);
  const t0 = performance.now();
  const r = spawnSync("qemu-img", args, { encoding: "utf8" });
  if (r.status !== 0) return null;
  return (count * 4096) / (1 << 20) / ((performance.now() - t0) / 1000);
}

function rate(step: (typeof STEPS)[number], sec: number, control: number): string {
  if (step.bytes === 0) return `${((sec / step.ops) * 1000).toFixed(2)} ms/dd`;
  const mib = `${(step.bytes / (1 << 20) / sec).toFixed(1)} MiB/s`;
  const iops = `${Math.round(step.ops / sec)} IOPS`;
  if (!step.key.includes("dd per request")) return `${mib}, ${iops}`;
  // Net of the control loop: the I/O part of each request. Negative when the difference is in the noise.
  const net = (sec - control) / step.ops;
  return `${iops} (I/O ${net > 0 ? (net * 1e6).toFixed(0) : "<0"} µs/req)`;
}

export async function bench(): Promise<void> {
  const missing = missingImages();
  if (missing) {
    console.log(`skipped: ${missing}`);
    return;
  }
  const haveQemu = spawnSync("qemu-system-riscv64", ["--version"]).status === 0;
  const haveQemuImg = spawnSync("qemu-img", ["--version"]).status === 0;
  const dir = mkdtempSync(join(tmpdir(), "tvisor-guest-disk-"));
  try {
    const image = join(dir, "Image");
    if (haveQemu) writeFileSync(image, gunzipSync(readFileSync(KERNEL))); // QEMU 7.2 loads a flat Image only
    console.log(
      `guest: bundled Linux + busybox dd, 128 MiB, 1 hart, ${DISK_MIB} MiB virtio-blk disk (fresh file per run), ` +
        `host page cache; times from the guest clock. Host: ${cpus().length} x ${cpus()[0]?.model ?? "?"}`,
    );
    console.log(
      `rand = ${RAND_COUNT} dd processes at block (i*${RAND_STEP}) mod ${BLOCKS}; "I/O µs/req" subtracts the ` +
        "mean of the control loops (same dd count without disk I/O) run before and after",
    );
    for (const format of ["raw", "qcow2"] as const) {
      const path = join(dir, `disk.${format}`);
      const fresh = async () => {
        rmSync(path, { force: true });
        await createImageFile(path, { format, size: DISK_MIB << 20 });
      };
      await fresh();
      const ours = await measure(() => tvisorShell(path, format));
      let theirs: Figures | null = null;
      if (haveQemu) {
        await fresh();
        theirs = await measure(() =>
          QemuShell.start(image, [
            "-drive",
            `file=${path},format=${format},if=none,id=d0`,
            "-device",
            "virtio-blk-device,drive=d0",
          ]),
        );
      }
      console.log(`\n${format}:`);
      console.log("| workload | tvisor | qemu-system-riscv64 TCG | tvisor/QEMU time ratio |");
      console.log("|---|---|---|---:|");
      for (const step of STEPS) {
        const a = ours.get(step.key) ?? Number.NaN;
        const b = theirs?.get(step.key) ?? null;
        const q = b === null || theirs === null ? "n/a" : rate(step, b, control(theirs));
        const ratio = b === null ? "n/a" : `${(a / b).toFixed(2)}x`;
        console.log(`| ${step.key} | ${rate(step, a, control(ours))} | ${q} | ${ratio} |`);
      }
      if (haveQemuImg) {
        // The file now holds the guest's data (all clusters allocated), so writes are overwrites.
        const f = (v: number | null) => (v === null ? "n/a" : v.toFixed(1));
        console.log(
          `qemu-img bench on ${format} file, 4 KiB QD1, MiB/s: seq write ${f(qemuImgBench(path, format, true, false))}, ` +
            `seq read ${f(qemuImgBench(path, format, false, false))}, stride write ${f(qemuImgBench(path, format, true, true))}, ` +
            `stride read ${f(qemuImgBench(path, format, false, true))}`,
        );
      }
    }
    if (!haveQemu) console.log("qemu-system-riscv64 not installed: no QEMU comparison");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
