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
import { BOOT_TIMEOUT_MS, ConsoleClient, missingImages, TestDaemon } from "./harness.js";

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

function smaps(pid: number): { rss: number; pss: number } {
  const t = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, "m").exec(t)?.[1] ?? 0) * 1024;
  return { rss: kb("Rss"), pss: kb("Pss") };
}

/** Poll (hang guard only) until `ok` holds. */
async function until(what: string, ok: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + BOOT_TIMEOUT_MS;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`never: ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
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

test("KSM: two VMs from the same image share pages; their memory summed as the host counts it falls", {
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
    writeFileSync(`${KSM}/run`, "1");
    const [c, d] = await Promise.all([boot("twin-a", {}), boot("twin-b", {})]);
    const stats = async (n: string) =>
      (
        (await call("GET", `/v1/vms/${n}/stats`)) as {
          memory?: { ksm: { mergingPages: number; shareable: boolean } };
        }
      ).memory;
    assert.equal((await stats("twin-a"))?.ksm.shareable, true, "guest RAM is marked mergeable");
    // Wait for the event: both processes have pages merged, and the host's shared-pages counter rose.
    await until("pages merged in both VMs", async () => {
      const [ma, mb] = [await stats("twin-a"), await stats("twin-b")];
      return (ma?.ksm.mergingPages ?? 0) > 1024 && (mb?.ksm.mergingPages ?? 0) > 1024;
    });
    assert.ok(Number(readFileSync(`${KSM}/pages_sharing`, "utf8")) > 0);
    const [sc, sd] = [smaps(c.pid), smaps(d.pid)];
    t.diagnostic(
      `RSS ${(sc.rss / MiB).toFixed(1)} + ${(sd.rss / MiB).toFixed(1)} MiB; PSS (shared pages split) ` +
        `${(sc.pss / MiB).toFixed(1)} + ${(sd.pss / MiB).toFixed(1)} MiB`,
    );
    // RSS counts a shared page in full in each process; PSS splits it, so the sum is what the host holds.
    assert.ok(
      sc.pss + sd.pss < sc.rss + sd.rss - 4 * MiB,
      "the two VMs together hold less than twice one VM's memory",
    );
    await call("POST", "/v1/vms/twin-a/kill");
    await call("POST", "/v1/vms/twin-b/kill");
  } finally {
    for (const [k, v] of saved) writeFileSync(`${KSM}/${k}`, v);
  }
});
