/**
 * In-guest CPU figures: the bundled Linux guest runs `gzip -1` and `sha256sum` of 32 MiB and a
 * floating-point busybox `awk` loop (2e6 iterations of s+=i*i) under tvisor with the JIT, tvisor with the
 * interpreter alone, and qemu-system-riscv64 -M virt (TCG), all timed with the guest's own clock. Also the
 * JIT's compile time, the number and size of its translations, and the tvisor process's RSS.
 * BENCH_GUEST_MIB and BENCH_AWK_ITERS shrink the workloads for a quick look.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { GuestSession, KERNEL, missingImages } from "../boot/guest-session.js";
import { QemuShell, type Shell } from "./qemu-shell.js";

const MIB = Number(process.env.BENCH_GUEST_MIB ?? 32);
const AWK_ITERS = Number(process.env.BENCH_AWK_ITERS ?? 2e6);
const CMD_MS = 1_800_000;

/**
 * `t` prints the guest's monotonic clock in ns (/proc/timer_list), `tm` the ns a command took, or FAIL.
 * The data is 1 MiB of `seq` text repeated to MIB MiB (repeats lie beyond gzip's 32 KiB window), in tmpfs.
 */
const SETUP = [
  "t() { if [ -r /proc/timer_list ]; then grep -m1 'now at' /proc/timer_list | cut -d' ' -f3; " +
    "else awk '{printf \"%d\\n\", $1*1000000000}' /proc/uptime; fi; }",
  'tm() { a=$(t); "$@" >/dev/null 2>&1 || { echo FAIL; return; }; b=$(t); echo $((b-a)); }',
  "seq 1 160000 | head -c 1048576 > /tmp/s",
  `i=0; while [ $i -lt ${MIB} ]; do cat /tmp/s; i=$((i+1)); done > /tmp/d; rm /tmp/s`,
];

const STEPS: { key: string; cmd: string }[] = [
  { key: `gzip -1 of ${MIB} MiB`, cmd: "tm gzip -1 -c /tmp/d" },
  { key: `sha256sum of ${MIB} MiB`, cmd: "tm sha256sum /tmp/d" },
  {
    key: `awk float loop, ${AWK_ITERS} iterations`,
    cmd: `tm awk 'BEGIN { s = 0; for (i = 0; i < ${AWK_ITERS}; i++) s += i * i; print s }'`,
  },
];

type Figures = Map<string, number>;

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

interface TvisorRun {
  figures: Figures;
  bootSeconds: number;
  extra: string;
}

async function tvisor(jit: "on" | "off"): Promise<TvisorRun> {
  const t0 = performance.now();
  const s = new GuestSession({ memMiB: 128, cpus: 1, jit });
  try {
    await s.waitForShell();
    const bootSeconds = (performance.now() - t0) / 1000;
    const figures = await workload({ run: (c, ms) => s.run(c, ms), close: () => s.close() });
    const rss = process.memoryUsage().rss / 2 ** 20;
    let extra = `RSS ${rss.toFixed(0)} MiB`;
    for (const j of s.vm.machine?.jits ?? []) {
      const st = j.stats;
      extra +=
        `; ${st.regions} regions (${st.blocks} blocks, ${st.guestInsns} guest instructions) in ${st.modules} modules, ` +
        `${(st.wasmBytes / 1024).toFixed(0)} KiB of wasm, compile ${(st.compileMs / 1000).toFixed(2)} s, ` +
        `${st.regionInsns} instructions run translated, ${st.invalidations} invalidated, ${st.evictions} evicted`;
    }
    return { figures, bootSeconds, extra };
  } finally {
    await s.close();
  }
}

export async function bench(): Promise<void> {
  const missing = missingImages();
  if (missing) {
    console.log(`skipped: ${missing}`);
    return;
  }
  const haveQemu = spawnSync("qemu-system-riscv64", ["--version"]).status === 0;
  console.log(
    `guest: bundled Linux + busybox, 128 MiB, 1 hart; data in tmpfs; times from the guest clock (seconds)`,
  );
  const jit = await tvisor("on");
  const interp = await tvisor("off");
  let qemu: Figures | null = null;
  let qemuBoot = Number.NaN;
  if (haveQemu) {
    const dir = mkdtempSync(join(tmpdir(), "tvisor-guest-cpu-"));
    try {
      const image = join(dir, "Image");
      writeFileSync(image, gunzipSync(readFileSync(KERNEL))); // QEMU 7.2 loads a flat Image only
      const t0 = performance.now();
      const sh = await QemuShell.start(image);
      qemuBoot = (performance.now() - t0) / 1000;
      try {
        qemu = await workload(sh);
      } finally {
        await sh.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  } else console.log("qemu-system-riscv64 not installed: no QEMU comparison");
  const f = (v: number) => v.toFixed(2);
  const ratio = (a: number, b: number | undefined) => (b === undefined ? "n/a" : `${(a / b).toFixed(2)}x`);
  console.log(
    "| workload | tvisor JIT | tvisor interpreter | QEMU TCG | JIT/QEMU time | interpreter/QEMU time |",
  );
  console.log("|---|---:|---:|---:|---:|---:|");
  const qb = haveQemu ? qemuBoot : undefined;
  console.log(
    `| boot to shell (wall, incl. startup) | ${f(jit.bootSeconds)} | ${f(interp.bootSeconds)} | ${qb === undefined ? "n/a" : f(qb)} | ${ratio(jit.bootSeconds, qb)} | ${ratio(interp.bootSeconds, qb)} |`,
  );
  for (const { key } of STEPS) {
    const a = jit.figures.get(key) ?? Number.NaN;
    const b = interp.figures.get(key) ?? Number.NaN;
    const q = qemu?.get(key);
    console.log(
      `| ${key} | ${f(a)} | ${f(b)} | ${q === undefined ? "n/a" : f(q)} | ${ratio(a, q)} | ${ratio(b, q)} |`,
    );
  }
  console.log(`tvisor JIT: ${jit.extra}`);
  console.log(`tvisor interpreter: ${interp.extra}`);
}
