/**
 * Live migration between two daemons on one machine over loopback: a guest whose shell loop keeps writing
 * a counter (dirtying memory all the time) moves to the other daemon and goes on counting there without a
 * reset, with the report (rounds, bytes, downtime) printed; the source no longer has it. Before that, the
 * same migration through a TCP proxy that cuts the connection after a few MiB fails in one line, the VM
 * runs on at the source and the destination keeps nothing.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, test } from "node:test";
import { type CliRun, CuttingProxy, cliAsync } from "./cutting-proxy.js";
import { BOOT_TIMEOUT_MS, ConsoleClient, missingImages, pollUntil, TestDaemon } from "./harness.js";

const skip = missingImages();
const src = new TestDaemon();
const dst = new TestDaemon();
const proxy = new CuttingProxy();
after(async () => {
  proxy.close();
  await src.dispose();
  await dst.dispose();
});

/** The CLI against the source daemon. */
const cli = (...args: string[]): Promise<CliRun> => cliAsync(src.stateDir, ...args);

/**
 * The counter's value. The loop rewrites the file (truncate, then write), so a read can land in between
 * and see it empty: read again then.
 */
async function readCount(c: ConsoleClient): Promise<number> {
  for (;;) {
    const text = (await c.run("cat /tmp/count")).trim();
    if (/^\d+$/.test(text)) return Number(text);
  }
}

/** The counter's value; poll (hang guard only) until it exceeds `above`. */
async function countAbove(c: ConsoleClient, above: number): Promise<number> {
  let n = 0;
  return pollUntil(
    async () => {
      n = await readCount(c);
      return n > above ? n : undefined;
    },
    () => `the counter stayed at ${n}`,
    300,
  );
}

async function vmsOf(d: TestDaemon): Promise<Array<{ name: string; state: string }>> {
  return ((await d.call("GET", "/v1/vms")).body as { vms: Array<{ name: string; state: string }> }).vms;
}

test("a guest dirtying memory migrates live; a cut connection leaves it running at the source", {
  timeout: 4 * BOOT_TIMEOUT_MS,
  skip: skip ?? false,
}, async (t) => {
  await src.start();
  await dst.start();
  const tokenFile = join(dst.stateDir, "token");
  let r = await cli("create", "mig", "--mem", "128M");
  assert.equal(r.status, 0, r.stderr);
  r = await cli("start", "mig");
  assert.equal(r.status, 0, r.stderr);
  const c = await ConsoleClient.open(src.socketPath, "mig");
  await c.waitForShell();
  await c.run("export KEEP=kept-$((40 + 2)); cd /tmp");
  // A counter written to a tmpfs file as fast as the shell can: it dirties guest pages continuously.
  await c.run("(i=0; while true; do i=$((i + 1)); echo $i > /tmp/count; done) >/dev/null 2>&1 & true");
  const first = await countAbove(c, 10);

  // 1. Through a proxy that cuts the stream after 4 MiB (round 0 of 128 MiB is still going).
  const proxyPort = await proxy.listen(dst.tcpPort, 4 << 20);
  r = await cli("migrate", "mig", "--to", `127.0.0.1:${proxyPort}`, "--token-file", tokenFile);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /^tvisor: .*migration failed: .+\n$/);
  assert.equal(r.stderr.split("\n").length, 2, "one line");
  assert.equal((await vmsOf(src)).find((v) => v.name === "mig")?.state, "running");
  const afterCut = await countAbove(c, first);
  // The destination removes the half-arrived VM (wait for it: hang guard only).
  await pollUntil(
    async () => ((await vmsOf(dst)).length === 0 ? true : undefined),
    () => "the destination kept the failed VM",
  );

  // 2. A wrong token is refused before anything moves.
  const bad = join(src.stateDir, "token");
  r = await cli("migrate", "mig", "--to", `127.0.0.1:${dst.tcpPort}`, "--token-file", bad);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /wrong bearer token/);
  assert.equal((await vmsOf(src)).find((v) => v.name === "mig")?.state, "running");

  // 3. The real migration.
  r = await cli("migrate", "mig", "--to", `127.0.0.1:${dst.tcpPort}`, "--token-file", tokenFile, "--json");
  assert.equal(r.status, 0, r.stderr);
  const report = JSON.parse(r.stdout) as {
    rounds: number;
    bytes: number;
    downtimeMs: number;
    totalMs: number;
  };
  t.diagnostic(`report: ${r.stdout.replace(/\s+/g, " ")}`);
  assert.ok(report.rounds >= 1);
  assert.ok(report.bytes > 0);
  assert.equal(typeof report.downtimeMs, "number");
  assert.ok(report.downtimeMs >= 0 && report.downtimeMs <= report.totalMs);
  // The source no longer has it; the destination runs it.
  assert.equal((await src.call("GET", "/v1/vms/mig")).status, 404);
  assert.equal((await vmsOf(dst)).find((v) => v.name === "mig")?.state, "running");
  c.close();
  const d = await ConsoleClient.open(dst.socketPath, "mig");
  d.type("\n");
  // The same shell (its variable) and the same counter, continuing from where it was, not from zero.
  assert.equal((await d.run("echo $KEEP")).trim(), "kept-42");
  const there = await readCount(d);
  assert.ok(there > afterCut, `the counter went on from ${afterCut} (now ${there})`);
  await countAbove(d, there);
  d.close();
});
