/**
 * VMs in the daemon, through real Unix-socket HTTP and WebSocket connections: three VMs at once with
 * separate consoles, a VM process killed from outside, the power-button stop, and console viewers that
 * disconnect mid-stream or stop reading. At most three guests boot at once (2-core CI).
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { BOOT_TIMEOUT_MS, ConsoleClient, missingImages, TestDaemon } from "./harness.js";

const skip = missingImages();
const daemon = new TestDaemon();
const NAMES = ["vm-a", "vm-b", "vm-c"];
const consoles = new Map<string, ConsoleClient>();

interface Info {
  state: string;
  reason?: string;
  pid?: number;
}

async function info(name: string): Promise<Info> {
  return (await daemon.call("GET", `/v1/vms/${name}`)).body as Info;
}

/** Poll (hang guard only) until the VM reaches `state`. */
async function waitState(name: string, state: string): Promise<Info> {
  const deadline = Date.now() + BOOT_TIMEOUT_MS;
  for (;;) {
    const i = await info(name);
    if (i.state === state) return i;
    if (Date.now() > deadline)
      throw new Error(`${name} stayed ${i.state} (${i.reason ?? ""}), expected ${state}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

before(async () => {
  if (skip) return;
  await daemon.start([]);
});
after(async () => {
  for (const c of consoles.values()) c.close();
  await daemon.dispose();
});

test("three VMs start at once; each console answers its own commands and output never crosses", {
  timeout: 4 * BOOT_TIMEOUT_MS,
  skip: skip ?? false,
}, async () => {
  for (const name of NAMES) {
    const r = await daemon.call("POST", "/v1/vms", { name, memBytes: 128 * 1024 * 1024 });
    assert.equal(r.status, 201, JSON.stringify(r.body));
  }
  const started = await Promise.all(NAMES.map((n) => daemon.call("POST", `/v1/vms/${n}/start`)));
  for (const r of started) assert.equal(r.status, 200, JSON.stringify(r.body));
  const pids = new Set(started.map((r) => (r.body as Info).pid));
  assert.equal(pids.size, 3, "one process per VM");
  assert.ok(!pids.has(daemon.child?.pid), "no VM runs in the daemon's process");
  for (const n of NAMES) consoles.set(n, await ConsoleClient.open(daemon.socketPath, n));
  await Promise.all(NAMES.map((n) => consoles.get(n)!.waitForShell()));
  // Each shell gets its own name; every answer comes back on its own console only.
  await Promise.all(NAMES.map((n) => consoles.get(n)!.run(`export WHO=${n}-marker`)));
  for (const n of NAMES)
    assert.equal((await consoles.get(n)!.run('echo "I am $WHO"')).trim(), `I am ${n}-marker`);
  for (const n of NAMES) {
    const out = consoles.get(n)!.output;
    for (const other of NAMES.filter((o) => o !== n))
      assert.ok(!out.includes(`${other}-marker`), `${other}'s output on ${n}'s console`);
  }
  // Stats come from each VM's own process.
  const stats = (await daemon.call("GET", "/v1/vms/vm-a/stats")).body as {
    state: string;
    instructions: number;
    rssBytes: number;
  };
  assert.equal(stats.state, "running");
  assert.ok(stats.instructions > 0);
  assert.ok(stats.rssBytes > 0);
});

test("a VM process killed from outside is reported crashed, and the others keep answering", {
  timeout: 2 * BOOT_TIMEOUT_MS,
  skip: skip ?? false,
}, async () => {
  const victim = await info("vm-a");
  assert.equal(victim.state, "running");
  process.kill(victim.pid!, "SIGKILL");
  const crashed = await waitState("vm-a", "crashed");
  assert.match(crashed.reason ?? "", /killed by SIGKILL/);
  await daemon.waitLog(/VM vm-a: crashed \(killed by SIGKILL\)/);
  // Its viewer was told; the others' shells still answer.
  const closed = await consoles.get("vm-a")!.closed;
  assert.match(closed.reason, /crashed/);
  for (const n of ["vm-b", "vm-c"])
    assert.equal((await consoles.get(n)!.run("echo $((6 * 7))")).trim(), "42");
  assert.equal((await info("vm-b")).state, "running");
  // A crashed VM can be started again.
  assert.equal((await daemon.call("POST", "/v1/vms/vm-a/kill")).status, 409);
});

test("console viewers that disconnect mid-stream or read slowly harm neither the VM nor other viewers", {
  timeout: 2 * BOOT_TIMEOUT_MS,
  skip: skip ?? false,
}, async () => {
  const main = consoles.get("vm-c")!;
  const slow = await ConsoleClient.open(daemon.socketPath, "vm-c");
  const quitter = await ConsoleClient.open(daemon.socketPath, "vm-c");
  // A late viewer first gets recent output from the ring buffer.
  assert.match(slow.output + (await slow.waitFor(/# /, BOOT_TIMEOUT_MS)).input, /# /);
  // The slow viewer stops reading: its socket is paused, so the daemon's send buffer for it fills.
  (slow.ws as unknown as { _socket: { pause(): void } })._socket.pause();
  const from = main.output.length;
  main.type("seq 1 12000 | tail -c 100000; echo SEQ-DONE\n");
  // The quitter drops its connection without a close handshake partway through the stream.
  await quitter.waitFor(/\n1[0-9]{3}\r?\n/, BOOT_TIMEOUT_MS, 0);
  quitter.ws.terminate();
  await main.waitFor(/\n12000\r?\nSEQ-DONE/, BOOT_TIMEOUT_MS, from);
  // Input from any viewer reaches the guest: the slow one types too (its writes still go out).
  assert.equal((await main.run("echo still-$((1 + 1))")).trim(), "still-2");
  // The daemon answers, the VM is running, and the main viewer saw the whole stream in order.
  const seq = main.output.slice(from).replace(/\r/g, "");
  const lines = seq
    .split("\n")
    .filter((l) => /^\d+$/.test(l))
    .map(Number);
  assert.equal(lines[lines.length - 1], 12000);
  assert.ok(lines.length > 1000);
  for (let i = 1; i < lines.length; i++)
    assert.equal(lines[i], lines[i - 1] + 1, "no output lost or reordered");
  assert.equal((await info("vm-c")).state, "running");
  slow.ws.terminate();
});

test("stop presses the power button: the guest powers off cleanly", {
  timeout: 2 * BOOT_TIMEOUT_MS,
  skip: skip ?? false,
}, async () => {
  // A program in the foreground does not block the power button (Ctrl-C comes first).
  const b = consoles.get("vm-b")!;
  await b.run("true");
  const from = b.output.length;
  b.type("sleep 1000\n");
  await b.waitFor(/sleep 1000\r?\n/, BOOT_TIMEOUT_MS, from);
  const r = await daemon.call("POST", "/v1/vms/vm-b/stop", { timeoutSec: BOOT_TIMEOUT_MS / 1000 });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal((r.body as Info).state, "stopped");
  assert.equal((r.body as Info).reason, "guest powered off");
  const killed = await daemon.call("POST", "/v1/vms/vm-c/kill");
  assert.equal((killed.body as Info).state, "stopped");
  assert.equal((killed.body as Info).reason, "killed");
});
