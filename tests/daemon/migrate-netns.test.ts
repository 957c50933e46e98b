/**
 * Live migration between two daemons in separate network namespaces joined by a veth pair, so the stream
 * crosses a real (virtual) link between two network stacks, as between hosts. Skipped, saying why, where
 * namespaces cannot be made (no root, no `ip`). Names carry the pid; namespaces, daemons and temp dirs go
 * even when the test fails.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { TVISOR_CLI } from "../boot/guest-session.js";
import { BOOT_TIMEOUT_MS, ConsoleClient, http, missingImages, pollUntil } from "./harness.js";

const NS_A = `tvma${process.pid}`;
const NS_B = `tvmb${process.pid}`;
const VETH_A = `tva${process.pid}`;
const VETH_B = `tvb${process.pid}`;
const NET = `10.${200 + (process.pid % 50)}.${(process.pid >> 6) % 250}`;
const IP_A = `${NET}.1`;
const IP_B = `${NET}.2`;

function ip(...args: string[]): { ok: boolean; err: string } {
  const r = spawnSync("ip", args, { encoding: "utf8" });
  return { ok: r.status === 0, err: (r.stderr ?? r.error?.message ?? "").trim() };
}

/** Make both namespaces and the veth between them; the reason they cannot be made, or null. */
function setUpNetns(): string | null {
  const a = ip("netns", "add", NS_A);
  if (!a.ok) return `cannot create a network namespace (${a.err || "ip failed"})`;
  const steps = [
    ["netns", "add", NS_B],
    ["link", "add", VETH_A, "type", "veth", "peer", "name", VETH_B],
    ["link", "set", VETH_A, "netns", NS_A],
    ["link", "set", VETH_B, "netns", NS_B],
    ["-n", NS_A, "addr", "add", `${IP_A}/24`, "dev", VETH_A],
    ["-n", NS_B, "addr", "add", `${IP_B}/24`, "dev", VETH_B],
    ["-n", NS_A, "link", "set", VETH_A, "up"],
    ["-n", NS_B, "link", "set", VETH_B, "up"],
    ["-n", NS_A, "link", "set", "lo", "up"],
    ["-n", NS_B, "link", "set", "lo", "up"],
  ];
  for (const s of steps) {
    const r = ip(...s);
    if (!r.ok) return `cannot set up the veth pair (ip ${s.join(" ")}: ${r.err})`;
  }
  return null;
}

function tearDownNetns(): void {
  ip("netns", "del", NS_A);
  ip("netns", "del", NS_B);
}

/** A daemon inside namespace `ns`, listening on `addr` port 0; its socket is reachable from here. */
class NsDaemon {
  readonly stateDir = mkdtempSync(join(tmpdir(), "tvisor-netns-"));
  child: ChildProcess | null = null;
  log = "";
  port = 0;
  constructor(
    readonly ns: string,
    readonly addr: string,
  ) {}
  get sock(): { socketPath: string } {
    return { socketPath: join(this.stateDir, "tvisor.sock") };
  }
  async start(): Promise<void> {
    const c = spawn("ip", [
      "netns",
      "exec",
      this.ns,
      process.execPath,
      TVISOR_CLI,
      "daemon",
      "--state-dir",
      this.stateDir,
      "--listen",
      `tcp:${this.addr}:0`,
    ]);
    this.child = c;
    c.stdout.on("data", (d: Buffer) => (this.log += d.toString()));
    c.stderr.on("data", (d: Buffer) => (this.log += d.toString()));
    this.port = await pollUntil(
      async () => {
        const m = new RegExp(`listening on tcp:${this.addr.replace(/\./g, "\\.")}:(\\d+)`).exec(this.log);
        if (m && /ready: state dir/.test(this.log)) return Number(m[1]);
        if (c.exitCode !== null) throw new Error(`daemon in ${this.ns} exited: ${this.log}`);
        return undefined;
      },
      () => `daemon in ${this.ns} did not start: ${this.log}`,
      50,
    );
  }
  async dispose(): Promise<void> {
    const c = this.child;
    if (c && c.exitCode === null && c.signalCode === null) {
      await new Promise<void>((resolve) => {
        c.once("exit", () => resolve());
        c.kill("SIGTERM");
      });
    }
    rmSync(this.stateDir, { recursive: true, force: true });
  }
}

test("a running guest migrates between daemons in two network namespaces over a veth pair", {
  timeout: 4 * BOOT_TIMEOUT_MS,
}, async (t) => {
  const missing = missingImages();
  if (missing) return t.skip(missing);
  if (process.getuid?.() !== 0) return t.skip("network namespaces need root");
  const why = setUpNetns();
  if (why) {
    tearDownNetns();
    return t.skip(why);
  }
  const a = new NsDaemon(NS_A, IP_A);
  const b = new NsDaemon(NS_B, IP_B);
  t.after(async () => {
    await a.dispose();
    await b.dispose();
    tearDownNetns();
  });
  await a.start();
  await b.start();
  let r = await http(a.sock, "POST", "/v1/vms", { body: { name: "ns", memBytes: 128 << 20 } });
  assert.equal(r.status, 201, r.text);
  r = await http(a.sock, "POST", "/v1/vms/ns/start");
  assert.equal(r.status, 200, r.text);
  const c = await ConsoleClient.open(a.sock.socketPath, "ns");
  await c.waitForShell();
  await c.run("export KEEP=netns-$((6 * 7))");
  c.close();
  // Namespace A cannot reach B's loopback: only the veth address works.
  const token = readFileSync(join(b.stateDir, "token"), "utf8").trim();
  r = await http(a.sock, "POST", "/v1/vms/ns/migrate", { body: { to: `${IP_B}:${b.port}`, token } });
  assert.equal(r.status, 200, r.text);
  const rep = r.body as { rounds: number; downtimeMs: number };
  t.diagnostic(`report: ${r.text}`);
  assert.ok(rep.rounds >= 1);
  assert.equal((await http(a.sock, "GET", "/v1/vms/ns")).status, 404);
  const info = (await http(b.sock, "GET", "/v1/vms/ns")).body as { state: string };
  assert.equal(info.state, "running");
  const d = await ConsoleClient.open(b.sock.socketPath, "ns");
  d.type("\n");
  assert.equal((await d.run("echo $KEEP")).trim(), "netns-42");
  d.close();
});
