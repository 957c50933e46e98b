/**
 * Overcommit figures: the cost of a 256 MiB balloon inflate, and the memory of 5 identical idle VMs
 * (one process) with neither KSM nor free page reporting, with KSM, and with free page reporting. The
 * weight ratio and cap accuracy come from tests/daemon/overcommit.test.ts's diagnostics.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { GuestSession, missingImages } from "../boot/guest-session.js";

const MiB = 1024 * 1024;
const KSM = "/sys/kernel/mm/ksm";

function rollup(): { rss: number; pss: number } {
  const t = readFileSync("/proc/self/smaps_rollup", "utf8");
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, "m").exec(t)?.[1] ?? 0) * 1024;
  return { rss: kb("Rss"), pss: kb("Pss") };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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

async function fiveVms(label: string, opts: { ksm: boolean; reporting: boolean }): Promise<void> {
  const saved = ["run", "pages_to_scan", "sleep_millisecs"].map((k) => [
    k,
    readFileSync(`${KSM}/${k}`, "utf8").trim(),
  ]);
  const sessions = Array.from(
    { length: 5 },
    () => new GuestSession({ memMiB: 128, freePageReporting: opts.reporting }),
  );
  try {
    await Promise.all(sessions.map((s) => s.waitForShell()));
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
      `5 idle VMs × 128 MiB, ${label}: process RSS ${(r.rss / MiB).toFixed(0)} MiB, PSS ${(r.pss / MiB).toFixed(0)} MiB`,
    );
  } finally {
    for (const [k, v] of saved) writeFileSync(`${KSM}/${k}`, v);
    await Promise.all(sessions.map((s) => s.close()));
  }
}

export async function bench(): Promise<void> {
  const why = missingImages();
  if (why) return void console.log(`skipped: ${why}`);
  await inflateCost();
  let ksm = true;
  try {
    writeFileSync(`${KSM}/run`, readFileSync(`${KSM}/run`, "utf8").trim());
  } catch {
    ksm = false;
  }
  await fiveVms("no KSM, no free page reporting", { ksm: false, reporting: false });
  if (ksm) await fiveVms("KSM on", { ksm: true, reporting: false });
  else console.log("KSM: skipped (cannot write /sys/kernel/mm/ksm/run)");
  await fiveVms("free page reporting", { ksm: false, reporting: true });
}
