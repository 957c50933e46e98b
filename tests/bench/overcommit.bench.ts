/**
 * Overcommit figures: the host CPU of an idle guest (WFI) against QEMU's, the weight ratio and cap
 * accuracy achieved through the daemon (cgroups, and the pacing fallback), the cost of a 256 MiB balloon
 * inflate, and the memory of 5 identical idle VMs (one process) with neither KSM nor free page reporting,
 * with KSM, and with free page reporting.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { GuestSession, KERNEL, missingImages } from "../boot/guest-session.js";
import { ConsoleClient, TestDaemon } from "../daemon/harness.js";
import { QemuShell } from "./qemu-shell.js";

const MiB = 1024 * 1024;
const KSM = "/sys/kernel/mm/ksm";

function rollup(): { rss: number; pss: number } {
  const t = readFileSync("/proc/self/smaps_rollup", "utf8");
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, "m").exec(t)?.[1] ?? 0) * 1024;
  return { rss: kb("Rss"), pss: kb("Pss") };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** utime + stime of a process in clock ticks (USER_HZ = 100; proc(5) /proc/PID/stat fields 14, 15). */
function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(f[11]) + Number(f[12]);
}

/** Percent of one core a process used over `ms` of wall time. */
async function cpuPercent(pid: number, ms: number): Promise<number> {
  const c0 = cpuTicks(pid);
  const w0 = performance.now();
  await sleep(ms);
  return ((cpuTicks(pid) - c0) * 10 * 100) / (performance.now() - w0);
}

/** A daemon and its VMs (one process each), booted to their shells. */
async function withDaemon(
  args: string[],
  vms: Array<Record<string, unknown>>,
  body: (d: TestDaemon, pids: number[], consoles: ConsoleClient[]) => Promise<void>,
): Promise<void> {
  const d = new TestDaemon();
  const consoles: ConsoleClient[] = [];
  try {
    await d.start(args);
    const pids: number[] = [];
    for (const v of vms) {
      await d.call("POST", "/v1/vms", { memBytes: 128 * MiB, ...v });
      const r = await d.call("POST", `/v1/vms/${v.name}/start`);
      pids.push((r.body as { pid: number }).pid);
      consoles.push(await ConsoleClient.open(d.socketPath, String(v.name)));
    }
    await Promise.all(consoles.map((c) => c.waitForShell()));
    await body(d, pids, consoles);
  } finally {
    for (const c of consoles) c.close();
    await d.dispose();
  }
}

/** An idle guest's host CPU: the VM process over 20 s once the shell is up, beside QEMU's. */
async function idleCpu(): Promise<void> {
  await withDaemon([], [{ name: "idle" }], async (_d, [pid]) => {
    await sleep(5000); // boot's tail (udev-less init, free page reporting's first pass)
    const pct = await cpuPercent(pid, 20_000);
    console.log(`idle guest (WFI), tvisor VM process: ${pct.toFixed(2)} % of a core over 20 s`);
  });
  if (spawnSync("qemu-system-riscv64", ["--version"]).status !== 0)
    return void console.log("idle guest, QEMU: skipped (no qemu-system-riscv64)");
  const dir = mkdtempSync(join(tmpdir(), "tvisor-idle-"));
  try {
    const image = join(dir, "Image");
    writeFileSync(image, gunzipSync(readFileSync(KERNEL))); // QEMU 7.2 loads a flat Image only
    const q = await QemuShell.start(image);
    try {
      await sleep(5000);
      const pct = q.pid === undefined ? Number.NaN : await cpuPercent(q.pid, 20_000);
      console.log(`idle guest (WFI), qemu-system-riscv64 TCG: ${pct.toFixed(2)} % of a core over 20 s`);
    } finally {
      await q.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Weight 512 against 256 on one core (both busy), then the lighter alone capped at 25 % for 20 s; with
 * the host's cgroups, then with `--cpu-control pacing`.
 */
async function weightAndCap(mode: "auto" | "pacing"): Promise<void> {
  const vms = [
    { name: "heavy", cpuWeight: 512 },
    { name: "light", cpuWeight: 256 },
  ];
  await withDaemon(["--cpu-control", mode], vms, async (d, [a, b], [ca, cb]) => {
    const mech = ((await d.call("GET", "/v1/vms/heavy")).body as { cpu: { mechanism: string } }).cpu
      .mechanism;
    for (const pid of [a, b]) execFileSync("taskset", ["-a", "-p", "-c", "0", String(pid)]);
    await ca.run("(while :; do :; done) & true");
    await cb.run("(while :; do :; done) & true");
    await sleep(2000);
    const [a0, b0] = [cpuTicks(a), cpuTicks(b)];
    await sleep(20_000);
    const [da, db] = [cpuTicks(a) - a0, cpuTicks(b) - b0];
    console.log(
      `${mech}: weights 512 : 256 on core 0 over 20 s: ${da} : ${db} ticks, ratio ${(da / db).toFixed(2)} : 1`,
    );
    await d.call("POST", "/v1/vms/heavy/kill");
    execFileSync("taskset", ["-a", "-p", "-c", "0,1", String(b)]);
    const uncapped = await cpuPercent(b, 10_000);
    await d.call("POST", "/v1/vms/light/cpu", { capPercent: 25 });
    await sleep(1000);
    const capped = await cpuPercent(b, 20_000);
    console.log(
      `${mech}: one busy VM uncapped ${uncapped.toFixed(1)} % of a core; capped at 25 %: ${capped.toFixed(1)} % over 20 s`,
    );
  });
}

async function inflateCost(): Promise<void> {
  const s = new GuestSession({ memMiB: 384, freePageReporting: false });
  try {
    await s.waitForShell();
    await s.run("dd if=/dev/zero of=/tmp/f bs=1M count=300 2>/dev/null; rm /tmp/f");
    const rss0 = rollup().rss;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    s.vm.setMemoryTarget(128 * MiB);
    for (;;) {
      const m = s.vm.memoryInfo();
      if (m && m.balloon.actualPages * 4096 === 256 * MiB) break;
      await sleep(20);
    }
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const rss1 = rollup().rss;
    console.log(
      `inflate 256 MiB: ${ms.toFixed(0)} ms wall, ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms host CPU, ` +
        `${((256 * 1000) / ms).toFixed(0)} MiB/s; process RSS ${(rss0 / MiB).toFixed(0)} -> ${(rss1 / MiB).toFixed(0)} MiB`,
    );
  } finally {
    await s.close();
  }
}

async function fiveVms(
  label: string,
  opts: { ksm: boolean; reporting: boolean; burst: boolean },
): Promise<void> {
  const saved = ["run", "pages_to_scan", "sleep_millisecs"].map((k) => [
    k,
    readFileSync(`${KSM}/${k}`, "utf8").trim(),
  ]);
  const sessions = Array.from(
    { length: 5 },
    () => new GuestSession({ memMiB: opts.burst ? 384 : 128, freePageReporting: opts.reporting }),
  );
  try {
    await Promise.all(sessions.map((s) => s.waitForShell()));
    // A burst: each guest fills and frees 48 MiB of page cache (tmpfs), as a build or a download would.
    // 384 MiB guests: Linux reports free pages only while a zone has its low watermark plus 32 blocks of
    // the reporting order (4 MiB here) free (mm/page_reporting.c), so a 128 MiB guest never reports.
    if (opts.burst)
      for (const s of sessions)
        await s.run("dd if=/dev/zero of=/tmp/f bs=1M count=48 2>/dev/null; rm /tmp/f");
    await sleep(10_000); // idle: let free page reporting (2 s delay) run
    if (opts.ksm) {
      writeFileSync(`${KSM}/pages_to_scan`, "4000");
      writeFileSync(`${KSM}/sleep_millisecs`, "10");
      writeFileSync(`${KSM}/run`, "1");
      // Until KSM stops finding more (two full scans without change in pages_sharing).
      let last = -1;
      for (;;) {
        await sleep(3000);
        const now = Number(readFileSync(`${KSM}/pages_sharing`, "utf8"));
        if (now === last) break;
        last = now;
      }
    }
    const r = rollup();
    console.log(
      `5 idle VMs × ${opts.burst ? "384 MiB after a 48 MiB burst each" : "128 MiB"}, ${label}: process RSS ${(r.rss / MiB).toFixed(0)} MiB, PSS ${(r.pss / MiB).toFixed(0)} MiB`,
    );
  } finally {
    for (const [k, v] of saved) writeFileSync(`${KSM}/${k}`, v);
    await Promise.all(sessions.map((s) => s.close()));
  }
}

export async function bench(): Promise<void> {
  const why = missingImages();
  if (why) return void console.log(`skipped: ${why}`);
  // OVERCOMMIT_ONLY=burst runs only the 5-VM figures after a burst, without and with free page reporting.
  const only = process.env.OVERCOMMIT_ONLY;
  console.log(
    `load average at start: ${readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")}`,
  );
  if (only !== "burst") {
    await idleCpu();
    await weightAndCap("auto");
    await weightAndCap("pacing");
    await inflateCost();
  }
  let ksm = true;
  try {
    writeFileSync(`${KSM}/run`, readFileSync(`${KSM}/run`, "utf8").trim());
  } catch {
    ksm = false;
  }
  for (const burst of only === "burst" ? [true] : [false, true]) {
    await fiveVms("no KSM, no free page reporting", { ksm: false, reporting: false, burst });
    if (only === "burst") {
      // (KSM's figure after a burst is in the full run.)
    } else if (ksm) await fiveVms("KSM on", { ksm: true, reporting: false, burst });
    else console.log("KSM: skipped (cannot write /sys/kernel/mm/ksm/run)");
    await fiveVms("free page reporting", { ksm: false, reporting: true, burst });
  }
  console.log(
    `load average at end: ${readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")}`,
  );
}
