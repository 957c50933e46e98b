/**
 * CPU weight and cap without cgroups: a daemon started with `--cpu-control pacing` (as on a host where it
 * may not create cgroups) enforces the weight as a nice value and the cap by stopping the VM process
 * (SIGSTOP) once it used its budget of each 100 ms period and continuing it (SIGCONT) at the next
 * (src/daemon/cpu-control.ts). Checks the mechanism `inspect` reports, the nice value, that the pacer
 * really stops the process, and the cap's ceiling from the process's CPU ticks (proc(5) /proc/PID/stat)
 * with a generous margin; the achieved figure is in the benchmark (tests/bench/overcommit.bench.ts).
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, test } from "node:test";
import { BOOT_TIMEOUT_MS, ConsoleClient, missingImages, TestDaemon, until } from "./harness.js";

const skip = missingImages();
const daemon = new TestDaemon();
const consoles: ConsoleClient[] = [];
const MiB = 1024 * 1024;

interface Info {
  pid?: number;
  cpu?: { weight: number; capPercent: number; mechanism: string };
}

async function call(method: string, path: string, body?: unknown): Promise<unknown> {
  const r = await daemon.call(method, path, body);
  assert.ok(r.status < 300, `${method} ${path}: ${r.status} ${r.text}`);
  return r.body;
}

/** Fields of /proc/PID/stat after the command name: [0] state, [11]+[12] utime+stime, [16] nice (proc(5)). */
function stat(pid: number): string[] {
  const s = readFileSync(`/proc/${pid}/stat`, "utf8");
  return s.slice(s.lastIndexOf(")") + 2).split(" ");
}
const cpuTicks = (pid: number) => Number(stat(pid)[11]) + Number(stat(pid)[12]);

before(async () => {
  if (skip) return;
  await daemon.start(["--cpu-control", "pacing"]);
});
after(async () => {
  for (const c of consoles) c.close();
  await daemon.dispose();
});

test("pacing (no cgroups): inspect says so, the weight is a nice value, a 25 % cap keeps a busy VM under a ceiling", {
  timeout: 4 * BOOT_TIMEOUT_MS,
  skip: skip ?? false,
}, async (t) => {
  assert.match(daemon.log, /CPU weight and cap: pacing \(--cpu-control pacing\)/);
  await call("POST", "/v1/vms", { name: "paced", memBytes: 96 * MiB, cpuWeight: 512 });
  const started = (await call("POST", "/v1/vms/paced/start")) as Info;
  const pid = started.pid;
  assert.ok(pid);
  const c = await ConsoleClient.open(daemon.socketPath, "paced");
  consoles.push(c);
  await c.waitForShell();

  const info = (await call("GET", "/v1/vms/paced")) as Info;
  assert.deepEqual(info.cpu, { weight: 512, capPercent: 0, mechanism: "pacing" });
  // Not in any cgroup of the daemon's: pacing means the daemon made none.
  assert.doesNotMatch(readFileSync(`/proc/${pid}/cgroup`, "utf8"), /tvisor-\d+/);
  // Weight 512 = twice the default; CFS weighs nice levels ~1.25× apart, so nice -3 (sched/core.c
  // sched_prio_to_weight: nice 0 → 1024, nice -3 → 1991).
  assert.equal(Number(stat(pid)[16]), -3, "weight 512 runs the VM process at nice -3");

  // A busy guest, then the cap, changed while it runs.
  await c.run("(while :; do :; done) & true");
  const capped = (await call("POST", "/v1/vms/paced/cpu", { capPercent: 25 })) as Info;
  assert.deepEqual(capped.cpu, { weight: 512, capPercent: 25, mechanism: "pacing" });
  // The pacer stops the process once it used its budget of a period: it is seen stopped ("T").
  await until("the pacer stopped the VM process", () => stat(pid)[0] === "T", 2);

  const c0 = cpuTicks(pid);
  const w0 = performance.now();
  // Count work, not time: 2 s of its CPU (USER_HZ = 100).
  await until("2 s of CPU used", () => cpuTicks(pid) - c0 >= 200);
  const share = ((cpuTicks(pid) - c0) * 10) / (performance.now() - w0);
  t.diagnostic(`paced at 25 %: used ${(share * 100).toFixed(1)} % of a core`);
  // A ceiling with a generous margin: an uncapped busy VM uses ~100 % of a core.
  assert.ok(share < 0.6, `a 25 % cap keeps the VM well under a core (used ${(share * 100).toFixed(0)} %)`);

  // Cap removed: the pacer lets go, and the VM is never left stopped.
  await call("POST", "/v1/vms/paced/cpu", { capPercent: 0 });
  await until("no longer stopped once the cap is gone", () => stat(pid)[0] !== "T");
  assert.match(await c.run("echo still-here"), /still-here/);
  await call("POST", "/v1/vms/paced/kill");
});
