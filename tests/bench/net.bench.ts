/**
 * Network figures (issue 9): TCP throughput both ways and request latency over user-mode NAT, tvisor
 * against qemu-system-riscv64 on the same engine (passt) in the same run, and TCP throughput between two
 * tvisor VMs (separate processes) on a `tvisor switch`. Every guest is the bundled kernel + initramfs,
 * 128 MiB, 1 hart; tvisor runs as `tvisor run` in its own process, like QEMU.
 *
 * - guest→host: the guest pipes `dd if=/dev/zero` into busybox `nc` to a host TCP server on the loopback,
 *   reached at the NAT gateway 10.0.2.2 (passt maps it to the host's 127.0.0.1), 2 MiB per connection
 *   one after another. Timed on the host: the connections' durations summed.
 * - host→guest: the host connects to a `hostfwd` port and writes the same amount; the guest's `nc -l`
 *   counts it. Timed on the host from connecting until the guest closes (after its last byte).
 * - latency: N sequential `wget` of a 13-byte page from a host HTTP server; the guest clock times the loop.
 * - switch: VM A pipes `dd` into `nc` to VM B's `nc -l | wc -c`; timed on the host from typing the
 *   command into A until B's counter is done.
 *
 * QEMU gets passt as tvisor does: the bench starts `passt --socket PATH` with tvisor's own argument list
 * (src/net/node/passt.ts passtArgs) and QEMU 7.2 connects with `-netdev stream,server=off,addr.type=unix`
 * (QEMU docs, "-netdev stream"; passt(1) "--socket"). BENCH_NET_MIB sets the transfer size (default 32),
 * BENCH_NET_REQUESTS the request count (default 20), BENCH_NET_ONLY=nat|switch one half,
 * BENCH_NET_ENGINE=tvisor|qemu one side of the NAT comparison. A figure that fails is printed as such.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer } from "node:http";
import { connect, createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { passtArgs, USER_NET } from "../../src/net/node/passt.js";
import { KERNEL, missingImages, TVISOR_CLI } from "../boot/guest-session.js";
import { ProcessSession } from "../boot/qemu-session.js";
import { QemuShell, type Shell } from "./qemu-shell.js";

const MIB = Number(process.env.BENCH_NET_MIB ?? 32);
const REQUESTS = Number(process.env.BENCH_NET_REQUESTS ?? 20);
const ONLY = process.env.BENCH_NET_ONLY;
const ENGINE = process.env.BENCH_NET_ENGINE;
const CMD_MS = 1_800_000;
const GUEST_PORT = 5001;
/** Guest→host data goes in connections of this many MiB (see the guest→host measurement). */
const UP_CHUNK_MIB = 2;
const UP_CHUNKS = Math.max(1, Math.round(MIB / UP_CHUNK_MIB));
const PAGE = "hello, bench\n";

/** Guest clock in ns, as in guest-cpu.bench.ts. */
const CLOCK =
  "t() { if [ -r /proc/timer_list ]; then grep -m1 'now at' /proc/timer_list | cut -d' ' -f3; " +
  "else awk '{printf \"%d\\n\", $1*1000000000}' /proc/uptime; fi; }";

/** MB/s (10^6 bytes per second) each way, and ms per request; a string says why a figure is missing. */
interface NatFigures {
  up: Figure;
  down: Figure;
  latencyMs: Figure;
}
type Figure = number | string;

/** One measurement; a failure is reported in its cell and the others still run. */
async function measure(what: string, f: () => Promise<number>): Promise<Figure> {
  try {
    return await f();
  } catch (e) {
    const why = e instanceof Error ? e.message.split("\n")[0] : String(e);
    console.log(`${what} failed: ${why}`);
    return `failed (${why.slice(0, 60)})`;
  }
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve((server.address() as { port: number }).port)),
  );
}

/** A free loopback port for a hostfwd (the kernel picks it; released for passt to bind). */
async function freePort(): Promise<number> {
  const s = createServer();
  const port = await listen(s);
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Host sink for sequential connections: bytes received and seconds connected, summed over them. */
function sink(): { server: Server; totals: { bytes: number; seconds: number; open: number } } {
  const server = createServer();
  const totals = { bytes: 0, seconds: 0, open: 0 };
  server.on("connection", (s) => {
    const t0 = performance.now();
    totals.open++;
    s.on("data", (d: Buffer) => {
      totals.bytes += d.length;
    });
    s.on("error", () => {});
    s.on("end", () => s.end());
    s.on("close", () => {
      totals.seconds += (performance.now() - t0) / 1000;
      totals.open--;
    });
  });
  return { server, totals };
}

/** Write `bytes` to 127.0.0.1:port and end; resolves with seconds until the far end closed. */
function source(port: number, bytes: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const s = connect(port, "127.0.0.1");
    const chunk = Buffer.alloc(64 << 10);
    let left = bytes;
    const pump = (): void => {
      while (left > 0) {
        const n = Math.min(left, chunk.length);
        left -= n;
        if (!s.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
          s.once("drain", pump);
          return;
        }
      }
      s.end();
    };
    s.once("connect", pump);
    s.on("data", () => {});
    s.once("error", reject);
    s.once("close", () => resolve((performance.now() - t0) / 1000));
  });
}

/** Wait in the guest until something listens on `port`. */
function waitListening(port: number): string {
  return `while ! netstat -ltn 2>/dev/null | grep -q ':${port} '; do usleep 20000; done`;
}

const DD = (mib: number) => `dd if=/dev/zero bs=65536 count=${mib * 16} 2>/dev/null`;

/** The NAT workloads on one guest whose NIC is on passt with hostfwd fwdPort → GUEST_PORT. */
async function natWorkload(sh: Shell, fwdPort: number, httpPort: number): Promise<NatFigures> {
  const bytes = MIB << 20;
  await sh.run(CLOCK, CMD_MS);
  const dhcp = await sh.run(
    "udhcpc -i eth0 -q -n -t 10 >/dev/null 2>&1; ip -4 addr show dev eth0 | grep -c inet",
    CMD_MS,
  );
  if (dhcp.trim() !== "1") throw new Error(`DHCP failed: ${dhcp}`);

  const up = await measure("guest→host", async () => {
    const { server, totals } = sink();
    const sinkPort = await listen(server);
    try {
      // UP_CHUNK_MIB per connection: the bookworm passt ends a connection the guest has been sending on for
      // about 25 s (also under QEMU; docs/benchmarks.md), which a slow guest reaches within one 32 MiB.
      const out = await sh.run(
        `i=0; while [ $i -lt ${UP_CHUNKS} ]; do ${DD(UP_CHUNK_MIB)} | nc ${USER_NET.gateway} ${sinkPort} ` +
          "|| echo FAIL; i=$((i+1)); done; echo done",
        CMD_MS,
      );
      if (out.includes("FAIL") || !out.includes("done")) throw new Error(`guest nc: ${out.trim()}`);
      await until(() => totals.open === 0, "the host side of the last connection to close");
    } finally {
      server.close();
    }
    const want = UP_CHUNKS * (UP_CHUNK_MIB << 20);
    if (totals.bytes !== want) throw new Error(`${totals.bytes} of ${want} bytes arrived`);
    return want / totals.seconds / 1e6;
  });

  const down = await measure("host→guest", async () => {
    await sh.run(`nc -l -p ${GUEST_PORT} | wc -c > /tmp/n & ${waitListening(GUEST_PORT)}; echo up`, CMD_MS);
    const seconds = await source(fwdPort, bytes);
    const got = (await sh.run("wait; cat /tmp/n", CMD_MS)).trim();
    if (got !== String(bytes)) throw new Error(`the guest counted ${got} of ${bytes} bytes`);
    return bytes / seconds / 1e6;
  });

  const latencyMs = await measure("HTTP requests", async () => {
    const url = `http://${USER_NET.gateway}:${httpPort}/`;
    const lat = (
      await sh.run(
        `wget -q -O /dev/null ${url}; a=$(t); i=0; while [ $i -lt ${REQUESTS} ]; do ` +
          `wget -q -O /dev/null ${url} || echo FAIL; i=$((i+1)); done; b=$(t); echo $((b-a))`,
        CMD_MS,
      )
    ).trim();
    if (lat.includes("FAIL") || !/^\d+$/.test(lat)) throw new Error(`wget loop: ${lat}`);
    return Number(lat) / 1e6 / REQUESTS;
  });
  return { up, down, latencyMs };
}

/** Kill a child and wait for it to go. */
async function kill(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return;
  const gone = new Promise((r) => c.once("exit", r));
  c.kill("SIGKILL");
  await gone;
}

async function until(cond: () => boolean, what: string): Promise<void> {
  const limit = Date.now() + 60_000;
  while (!cond()) {
    if (Date.now() > limit) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function shellOf(p: ProcessSession): Shell {
  return { run: (c) => p.run(c), close: () => p.close() };
}

async function natTvisor(dir: string, httpPort: number): Promise<NatFigures> {
  const fwd = await freePort();
  const p = await ProcessSession.boot(
    process.execPath,
    [TVISOR_CLI, "run", "--mem", "128M", "--nic", `user,hostfwd=tcp:127.0.0.1:${fwd}-:${GUEST_PORT}`],
    { ...process.env, TVISOR_STATE_DIR: dir },
  );
  try {
    return await natWorkload(shellOf(p), fwd, httpPort);
  } finally {
    await p.close();
  }
}

async function natQemu(dir: string, httpPort: number): Promise<NatFigures> {
  const fwd = await freePort();
  // Started as root, passt becomes `nobody` before it binds (passt(1)): give it a directory it may write.
  const sockDir = join(dir, "passt");
  mkdirSync(sockDir);
  chmodSync(dir, 0o711);
  chmodSync(sockDir, 0o1777);
  const sock = join(sockDir, "passt.sock");
  const args = passtArgs({
    hostfwd: [{ proto: "tcp", hostAddr: "127.0.0.1", hostPort: fwd, guestPort: GUEST_PORT }],
  });
  const passt = spawn("passt", [...args, "--one-off", "--socket", sock], { stdio: "ignore" });
  let sh: QemuShell | null = null;
  try {
    await until(() => existsSync(sock), "passt's socket");
    const image = join(dir, "Image");
    writeFileSync(image, gunzipSync(readFileSync(KERNEL))); // QEMU 7.2 loads a flat Image only
    sh = await QemuShell.start(image, [
      "-netdev",
      `stream,id=n0,server=off,addr.type=unix,addr.path=${sock}`,
      "-device",
      "virtio-net-device,netdev=n0",
    ]);
    return await natWorkload(sh, fwd, httpPort);
  } finally {
    await sh?.close();
    await kill(passt);
  }
}

/** Start `tvisor switch NAME`; resolves once it listens. */
function startSwitch(name: string, env: NodeJS.ProcessEnv): Promise<ChildProcess> {
  const child = spawn(process.execPath, [TVISOR_CLI, "switch", name], {
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  return new Promise((resolve, reject) => {
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes(`switch ${name} on `)) resolve(child);
    });
    child.stderr.on("data", (d: Buffer) => {
      out += d.toString();
    });
    child.once("exit", (code) => reject(new Error(`tvisor switch ${name} exited (${code}): ${out}`)));
  });
}

/** MB/s from `from` to `to` (at toIp) over TCP. */
async function switchTransfer(from: Shell, to: Shell, toIp: string): Promise<number> {
  const bytes = MIB << 20;
  await to.run(`nc -l -p ${GUEST_PORT} | wc -c > /tmp/n & ${waitListening(GUEST_PORT)}; echo up`, CMD_MS);
  const t0 = performance.now();
  const out = await from.run(`${DD(MIB)} | nc ${toIp} ${GUEST_PORT}; echo rc=$?`, CMD_MS);
  const got = (await to.run("wait; cat /tmp/n", CMD_MS)).trim();
  const seconds = (performance.now() - t0) / 1000;
  if (!out.includes("rc=0") || got !== String(bytes))
    throw new Error(`switch transfer: nc said ${out.trim()}, the receiver counted ${got} of ${bytes}`);
  return bytes / seconds / 1e6;
}

async function switchBench(dir: string): Promise<{ ab: number; ba: number }> {
  const env = { ...process.env, TVISOR_STATE_DIR: dir };
  const sw = await startSwitch("bench", env);
  const vms: ProcessSession[] = [];
  try {
    const boot = (mac: string) =>
      ProcessSession.boot(
        process.execPath,
        [TVISOR_CLI, "run", "--mem", "128M", "--nic", `switch=bench,mac=${mac}`],
        env,
      );
    vms.push(...(await Promise.all([boot("52:54:00:be:00:01"), boot("52:54:00:be:00:02")])));
    const [a, b] = vms.map(shellOf);
    const ips = ["10.0.50.1", "10.0.50.2"];
    for (const [i, g] of [a, b].entries()) {
      const ok = await g.run(
        `ip addr add ${ips[i]}/24 dev eth0 && ip link set eth0 up && ` +
          'until [ "$(cat /sys/class/net/eth0/operstate)" = up ]; do usleep 100000; done; echo ok',
        CMD_MS,
      );
      if (ok.trim() !== "ok") throw new Error(`VM ${i}: ${ok}`);
    }
    await a.run(`ping -c 1 -W 30 ${ips[1]} >/dev/null; echo`, CMD_MS);
    const ab = await switchTransfer(a, b, ips[1]);
    const ba = await switchTransfer(b, a, ips[0]);
    return { ab, ba };
  } finally {
    await Promise.all(vms.map((v) => v.close().catch(() => {})));
    await kill(sw);
  }
}

export async function bench(): Promise<void> {
  const missing = missingImages();
  if (missing) {
    console.log(`skipped: ${missing}`);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), "tvisor-net-bench-"));
  const f = (v: number) => v.toFixed(2);
  try {
    console.log(
      `guests: bundled Linux + busybox, 128 MiB, 1 hart; ${MIB} MiB per transfer (MB/s = 10^6 bytes/s); ${REQUESTS} requests`,
    );
    if (ONLY !== "switch") {
      const passt = spawnSync("passt", ["--version"]).status === 0;
      if (!passt) console.log("passt not installed (Debian passt): no NAT figures");
      else {
        const http = createHttpServer((_req, res) => res.end(PAGE));
        const httpPort = await listen(http as unknown as Server);
        try {
          const haveQemu = spawnSync("qemu-system-riscv64", ["--version"]).status === 0;
          if (!haveQemu) console.log("qemu-system-riscv64 not installed: no QEMU comparison");
          const tv = ENGINE !== "qemu" ? await natTvisor(dir, httpPort) : null;
          const q = haveQemu && ENGINE !== "tvisor" ? await natQemu(dir, httpPort) : null;
          const cell = (v: Figure | undefined) =>
            v === undefined ? "n/a" : typeof v === "string" ? v : f(v);
          const ratio = (a: Figure | undefined, b: Figure | undefined) =>
            typeof a === "number" && typeof b === "number" ? `${(a / b).toFixed(2)}x` : "n/a";
          console.log("| user-mode NAT (passt) | tvisor | QEMU TCG | tvisor/QEMU |");
          console.log("|---|---:|---:|---:|");
          const row = (name: string, k: keyof NatFigures) =>
            console.log(`| ${name} | ${cell(tv?.[k])} | ${cell(q?.[k])} | ${ratio(tv?.[k], q?.[k])} |`);
          row("guest→host TCP, MB/s", "up");
          row("host→guest TCP, MB/s", "down");
          row("HTTP request (wget), ms", "latencyMs");
        } finally {
          http.close();
        }
      }
    }
    if (ONLY !== "nat") {
      const s = await switchBench(dir);
      console.log("| switch (two tvisor processes, `tvisor switch`) | MB/s |");
      console.log("|---|---:|");
      console.log(`| VM A → VM B TCP | ${f(s.ab)} |`);
      console.log(`| VM B → VM A TCP | ${f(s.ba)} |`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
