/**
 * Control-plane figures: daemon and VM-process memory beyond guest RAM, start → guest ready, 10 VMs of
 * 128 MiB started together, save/restore of a 256 MiB guest right after boot, and API requests per second
 * for GET /v1/vms from a loopback client. Everything goes through a real daemon subprocess.
 */
import { readFileSync, rmSync, statSync } from "node:fs";
import { Agent, request } from "node:http";
import { join } from "node:path";
import { ConsoleClient, TestDaemon } from "../daemon/harness.js";

const MiB = 1024 * 1024;

function rssOf(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    return Number(readFileSync(`/proc/${pid}/statm`, "utf8").split(" ")[1]) * 4096;
  } catch {
    return 0;
  }
}

const mib = (n: number) => `${(n / MiB).toFixed(0)} MiB`;

async function define(d: TestDaemon, name: string, memMiB: number): Promise<void> {
  const r = await d.call("POST", "/v1/vms", { name, memBytes: memMiB * MiB });
  if (r.status !== 201) throw new Error(`define ${name}: ${JSON.stringify(r.body)}`);
}

/** Start a VM and wait for its "tvisor: guest ready" line on the console WebSocket; seconds. */
async function startToReady(
  d: TestDaemon,
  name: string,
): Promise<{ seconds: number; console: ConsoleClient }> {
  const t0 = performance.now();
  const r = await d.call("POST", `/v1/vms/${name}/start`);
  if (r.status !== 200) throw new Error(`start ${name}: ${JSON.stringify(r.body)}`);
  const c = await ConsoleClient.open(d.socketPath, name);
  await c.waitFor(/tvisor: guest ready/, 600_000);
  return { seconds: (performance.now() - t0) / 1000, console: c };
}

async function pidOf(d: TestDaemon, name: string): Promise<number | undefined> {
  return ((await d.call("GET", `/v1/vms/${name}`)).body as { pid?: number }).pid;
}

/** GET /v1/vms over TCP with keep-alive from `concurrency` clients, `total` requests in all. */
async function apiRate(d: TestDaemon, total: number, concurrency: number): Promise<number> {
  const token = readFileSync(join(d.stateDir, "token"), "utf8").trim();
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  let left = total;
  const one = () =>
    new Promise<void>((resolve, reject) => {
      const req = request(
        {
          host: "127.0.0.1",
          port: d.tcpPort,
          path: "/v1/vms",
          agent,
          headers: { authorization: `Bearer ${token}` },
        },
        (res) => {
          res.resume();
          res.on("end", () =>
            res.statusCode === 200 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`)),
          );
        },
      );
      req.on("error", reject);
      req.end();
    });
  const worker = async () => {
    while (left-- > 0) await one();
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const s = (performance.now() - t0) / 1000;
  agent.destroy();
  return total / s;
}

export async function bench(): Promise<void> {
  const d = new TestDaemon();
  await d.start(["--listen", "tcp:127.0.0.1:0"]);
  try {
    console.log(`daemon idle RSS: ${mib(rssOf(d.child?.pid))}`);

    // One VM: start → ready, and its process's memory beyond guest RAM.
    await define(d, "one", 128);
    const one = await startToReady(d, "one");
    console.log(`start → guest ready (1 VM, 128 MiB): ${one.seconds.toFixed(1)} s`);
    const pid = await pidOf(d, "one");
    const stats = (await d.call("GET", "/v1/vms/one/stats")).body as { rssBytes: number };
    console.log(
      `VM process RSS after boot: ${mib(rssOf(pid))} (guest RAM 128 MiB, of which the guest has touched only part; ` +
        `stats say ${mib(stats.rssBytes)})`,
    );

    // API rate while one VM runs (the daemon's event loop also carries its console and stats).
    for (const r of [await apiRate(d, 2000, 8)])
      console.log(`GET /v1/vms over TCP loopback, 8 keep-alive clients: ${r.toFixed(0)} req/s`);
    one.console.close();
    await d.call("POST", "/v1/vms/one/kill");

    // Save/restore of a 256 MiB guest right after boot.
    await define(d, "big", 256);
    const big = await startToReady(d, "big");
    await big.console.waitFor(/# /, 600_000);
    const file = join(d.stateDir, "big.state");
    const save = await d.call("POST", "/v1/vms/big/save", { file });
    if (save.status === 200) {
      const s = save.body as { bytes: number; ms: number };
      console.log(
        `save 256 MiB guest after boot: ${(s.ms / 1000).toFixed(2)} s in the VM process, file ${mib(statSync(file).size)}`,
      );
      await d.call("POST", "/v1/vms/big/kill");
      const t0 = performance.now();
      const r = await d.call("POST", "/v1/restore", { file, name: "big" });
      console.log(
        `restore (new process, file → running): ${((performance.now() - t0) / 1000).toFixed(2)} s (HTTP ${r.status})`,
      );
    } else console.log(`save: ${JSON.stringify(save.body)}`);
    big.console.close();
    await d.call("POST", "/v1/vms/big/kill");
    rmSync(file, { force: true });

    // Ten VMs of 128 MiB started together.
    const names = Array.from({ length: 10 }, (_, i) => `ten-${i}`);
    for (const n of names) await define(d, n, 128);
    const t0 = performance.now();
    const ready = await Promise.all(names.map((n) => startToReady(d, n)));
    const all = (performance.now() - t0) / 1000;
    let rss = rssOf(d.child?.pid);
    for (const n of names) rss += rssOf(await pidOf(d, n));
    console.log(
      `10 VMs × 128 MiB started together: all ready after ${all.toFixed(1)} s (slowest ${Math.max(...ready.map((r) => r.seconds)).toFixed(1)} s); ` +
        `host RSS daemon + VM processes ${mib(rss)}; daemon alone ${mib(rssOf(d.child?.pid))}`,
    );
    for (const r of ready) r.console.close();
    await Promise.all(names.map((n) => d.call("POST", `/v1/vms/${n}/kill`)));
  } finally {
    await d.dispose();
  }
}
