/**
 * Overcommit in the daemon: CPU weight and cap between VM processes (cgroups or pacing), and page
 * sharing of two VMs booted from the same image through the host's KSM. Checks orderings and ceilings
 * only; the achieved figures are in the benchmark (tests/bench/overcommit.bench.ts).
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { BOOT_TIMEOUT_MS, ConsoleClient, missingImages, TestDaemon, until } from "./harness.js";

const skip = missingImages();
const daemon = new TestDaemon();
const consoles: ConsoleClient[] = [];
const MiB = 1024 * 1024;

interface Info {
  state: string;
  pid?: number;
  cpu?: { weight: number; capPercent: number; mechanism: string };
}

async function call(method: string, path: string, body?: unknown): Promise<unknown> {
  const r = await daemon.call(method, path, body);
  assert.ok(r.status < 300, `${method} ${path}: ${r.status} ${r.text}`);
  return r.body;
}

/** utime + stime of a process in clock ticks (proc(5) fields 14 and 15). */
function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(f[11]) + Number(f[12]);
}

/** Resident, proportional and private memory of a process (proc(5), /proc/PID/smaps_rollup). */
function smaps(pid: number): { rss: number; pss: number; priv: number } {
  const t = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, "m").exec(t)?.[1] ?? 0) * 1024;
  return { rss: kb("Rss"), pss: kb("Pss"), priv: kb("Private_Clean") + kb("Private_Dirty") };
}

async function boot(
  name: string,
  def: Record<string, unknown>,
): Promise<{ pid: number; console: ConsoleClient }> {
  await call("POST", "/v1/vms", { name, memBytes: 96 * MiB, ...def });
  const info = (await call("POST", `/v1/vms/${name}/start`)) as Info;
  assert.ok(info.pid);
  const c = await ConsoleClient.open(daemon.socketPath, name);
  consoles.push(c);
  await c.waitForShell();
  return { pid: info.pid, console: c };
}

before(async () => {
  if (skip) return;
  await daemon.start([]);
});
after(async () => {
  for (const c of consoles) c.close();
  await daemon.dispose();
});

test("CPU: the heavier of two busy VMs on one core gets more; a cap holds a busy VM under a ceiling", {
  timeout: 4 * BOOT_TIMEOUT_MS,
  skip: skip ?? false,
}, async (t) => {
  const [a, b] = await Promise.all([boot("heavy", { cpuWeight: 512 }), boot("light", { cpuWeight: 256 })]);
  const ia = (await call("GET", "/v1/vms/heavy")) as Info;
  assert.equal(ia.cpu?.weight, 512);
  t.diagnostic(`mechanism: ${ia.cpu?.mechanism}`);
  if (ia.cpu?.mechanism === "cgroup-v1") {
    const group = readFileSync(`/proc/${a.pid}/cgroup`, "utf8").match(/^\d+:cpu:(.*)$/m)?.[1];
    assert.ok(group, "the VM process is in a cpu cgroup");
    assert.equal(readFileSync(join("/sys/fs/cgroup/cpu", group, "cpu.shares"), "utf8").trim(), "2048");
  }
  // Both on one core, both busy: the scheduler must divide it by weight.
  for (const pid of [a.pid, b.pid]) execFileSync("taskset", ["-a", "-p", "-c", "0", String(pid)]);
  for (const v of [a, b]) await v.console.run("(while :; do :; done) & true");
  const a0 = cpuTicks(a.pid);
  const b0 = cpuTicks(b.pid);
  // Count work, not time: wait until the two used 8 s of CPU between them.
  await until("8 s of CPU used", () => cpuTicks(a.pid) - a0 + (cpuTicks(b.pid) - b0) >= 800);
  const da = cpuTicks(a.pid) - a0;
  const db = cpuTicks(b.pid) - b0;
  t.diagnostic(`weight 512 got ${da} ticks, weight 256 got ${db} ticks (ratio ${(da / db).toFixed(2)})`);
  assert.ok(da > db, `the heavier VM got more CPU (${da} vs ${db} ticks)`);

  // The cap, changed while running: the light VM alone, capped at 25 % of a core.
  await call("POST", "/v1/vms/heavy/kill");
  const ib = (await call("POST", "/v1/vms/light/cpu", { capPercent: 25 })) as Info;
  assert.equal(ib.cpu?.capPercent, 25);
  const c0 = cpuTicks(b.pid);
  const w0 = performance.now();
  await until("2 s of CPU used", () => cpuTicks(b.pid) - c0 >= 200);
  const share = ((cpuTicks(b.pid) - c0) * 10) / (performance.now() - w0);
  t.diagnostic(`capped at 25 %: used ${(share * 100).toFixed(1)} % of a core`);
  // A ceiling with a generous margin: an uncapped busy VM uses ~100 %.
  assert.ok(share < 0.6, `a 25 % cap keeps the VM well under a core (used ${(share * 100).toFixed(0)} %)`);
  await call("POST", "/v1/vms/light/kill");
});

const KSM = "/sys/kernel/mm/ksm";

/** Why KSM cannot be switched on here, or null. */
function ksmUnavailable(): string | null {
  if (!existsSync(`${KSM}/run`)) return "the host kernel has no KSM";
  try {
    writeFileSync(`${KSM}/run`, readFileSync(`${KSM}/run`, "utf8").trim());
    return null;
  } catch (e) {
    return `cannot write ${KSM}/run: ${(e as Error).message}`;
  }
}

test("KSM: two VMs from the same image share pages; the shared-pages counter rises and their memory summed falls below twice one VM's", {
  timeout: 4 * BOOT_TIMEOUT_MS,
  skip: skip ?? false,
}, async (t) => {
  const why = ksmUnavailable();
  if (why) return t.skip(why);
  const saved = ["run", "pages_to_scan", "sleep_millisecs"].map((k) => [
    k,
    readFileSync(`${KSM}/${k}`, "utf8").trim(),
  ]);
  try {
    // Converge fast: scan many pages, sleep little.
    writeFileSync(`${KSM}/pages_to_scan`, "4000");
    writeFileSync(`${KSM}/sleep_millisecs`, "10");
    const [c, d] = await Promise.all([boot("twin-a", {}), boot("twin-b", {})]);
    const stats = async (n: string) =>
      (
        (await call("GET", `/v1/vms/${n}/stats`)) as {
          memory?: { ksm: { mergingPages: number; shareable: boolean } };
        }
      ).memory;
    assert.equal((await stats("twin-a"))?.ksm.shareable, true, "guest RAM is marked mergeable");
    // The shared-pages counter that rises is each VM's own (ksm_merging_pages in /proc/PID/ksm_stat, as
    // `stats` reports it): the host-wide pages_sharing also counts other processes' pages and is only
    // updated while ksmd runs, so it cannot say what these two VMs gained.
    const merged0 = [
      (await stats("twin-a"))?.ksm.mergingPages ?? 0,
      (await stats("twin-b"))?.ksm.mergingPages ?? 0,
    ];
    // One VM's memory before ksmd runs (this test starts it): the "twice one VM's" baseline.
    const [c0, d0] = [smaps(c.pid), smaps(d.pid)];
    const oneVm = Math.min(c0.rss, d0.rss);
    writeFileSync(`${KSM}/run`, "1");
    // Wait for the event: both processes have gained at least 4 MiB of merged pages.
    let merged1 = merged0;
    await until("pages merged in both VMs", async () => {
      merged1 = [
        (await stats("twin-a"))?.ksm.mergingPages ?? 0,
        (await stats("twin-b"))?.ksm.mergingPages ?? 0,
      ];
      return merged1[0] > merged0[0] + 1024 && merged1[1] > merged0[1] + 1024;
    });
    const sharingAfter = Number(readFileSync(`${KSM}/pages_sharing`, "utf8"));
    assert.ok(sharingAfter > 0, "the host's KSM counts shared pages");
    const [sc, sd] = [smaps(c.pid), smaps(d.pid)];
    const f = (n: number) => (n / MiB).toFixed(1);
    t.diagnostic(
      `before merging: RSS ${f(c0.rss)} + ${f(d0.rss)} MiB; after: RSS ${f(sc.rss)} + ${f(sd.rss)} MiB, ` +
        `PSS ${f(sc.pss)} + ${f(sd.pss)} MiB, Private ${f(sc.priv)} + ${f(sd.priv)} MiB; merged pages ` +
        `${merged0.join(" + ")} -> ${merged1.join(" + ")}; host pages_sharing ${sharingAfter}`,
    );
    // The issue asks that "the sum of their RSS falls below twice one VM's". RSS cannot show that on
    // Linux: a page KSM merged stays mapped in every process that shares it, and RSS (VmRSS, smaps "Rss")
    // counts every page mapped and resident in the process, shared or not; only PSS divides a shared page
    // among the processes that map it (Documentation/filesystems/proc.rst, /proc/PID/smaps: "Rss",
    // "proportional set size"; Documentation/admin-guide/mm/ksm.rst: merged pages are write-protected
    // pages mapped into each process). Checked on this host's 6.18 kernel: two processes with 32 MiB of
    // identical MADV_MERGEABLE memory kept VmRSS 46 MiB each after ksmd merged all 8192 pages, while PSS
    // fell from 42 to 9 MiB. (The one exception, use_zero_pages=1, maps zero-filled pages to the kernel's
    // zero page and does lower RSS, but only for pages of zeros.) So the sum is taken over PSS, which is
    // what the two processes hold of the host's memory between them.
    assert.ok(
      sc.pss + sd.pss < 2 * oneVm - 4 * MiB,
      `the two VMs hold less than twice one VM's memory: PSS ${f(sc.pss)} + ${f(sd.pss)} MiB vs 2 × ${f(oneVm)} MiB`,
    );
    await call("POST", "/v1/vms/twin-a/kill");
    await call("POST", "/v1/vms/twin-b/kill");
  } finally {
    for (const [k, v] of saved) writeFileSync(`${KSM}/${k}`, v);
  }
});
