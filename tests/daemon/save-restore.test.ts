/**
 * Save and restore through the daemon (CLI → Unix socket → VM process → state file): the restored shell
 * keeps its variables and a counting program goes on counting, after a daemon restart; truncated and
 * bit-flipped state files are refused in one line and change nothing.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { TVISOR_CLI } from "../boot/guest-session.js";
import { BOOT_TIMEOUT_MS, ConsoleClient, missingImages, TestDaemon } from "./harness.js";

const skip = missingImages();
const daemon = new TestDaemon();
after(async () => {
  await daemon.dispose();
});

function cli(...args: string[]) {
  return spawnSync(process.execPath, [TVISOR_CLI, ...args, "--state-dir", daemon.stateDir], {
    encoding: "utf8",
  });
}

/** The counter's value; poll (hang guard only) until it exceeds `above`. */
async function countAbove(c: ConsoleClient, above: number): Promise<number> {
  const deadline = Date.now() + BOOT_TIMEOUT_MS;
  for (;;) {
    const n = Number((await c.run("cat /tmp/count")).trim());
    if (n > above) return n;
    if (Date.now() > deadline) throw new Error(`the counter stayed at ${n}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

test("a running VM is saved and restored through the daemon, across a daemon restart", {
  timeout: 4 * BOOT_TIMEOUT_MS,
  skip: skip ?? false,
}, async () => {
  await daemon.start([]);
  assert.equal(cli("create", "sr", "--mem", "128M").status, 0);
  assert.equal(cli("start", "sr").status, 0);
  const c = await ConsoleClient.open(daemon.socketPath, "sr");
  await c.waitForShell();
  await c.run("export KEEP=kept-$((40 + 2)); cd /tmp");
  // "& true": the run helper appends "; echo END", and "&;" is a syntax error in sh.
  await c.run(
    "(i=0; while true; do i=$((i + 1)); echo $i > /tmp/count; sleep 1; done) >/dev/null 2>&1 & true",
  );
  const before = await countAbove(c, 1);

  const file = join(daemon.stateDir, "sr.state");
  const saved = cli("save", "sr", file);
  assert.equal(saved.status, 0, saved.stderr);
  assert.match(saved.stdout, /saved VM sr to .*sr\.state \(\d+ bytes\); it stays paused/);
  assert.equal(((await daemon.call("GET", "/v1/vms/sr")).body as { state: string }).state, "paused");
  c.close();
  assert.equal(cli("kill", "sr").status, 0);
  const size = statSync(file).size;
  assert.ok(
    size > 0 && size < 128 * 1024 * 1024,
    `state file of ${size} bytes: zero pages skipped, RAM compressed`,
  );

  // Bad files first: they must change nothing (no new VM; sr keeps its definition and state).
  const listBefore = (await daemon.call("GET", "/v1/vms")).body;
  const bytes = readFileSync(file);
  const truncated = join(daemon.stateDir, "truncated.state");
  writeFileSync(truncated, bytes.subarray(0, Math.floor(bytes.length / 2)));
  const flipped = join(daemon.stateDir, "flipped.state");
  const copy = Buffer.from(bytes);
  copy[Math.floor(copy.length * 0.6)] ^= 0x10;
  writeFileSync(flipped, copy);
  for (const [f, name] of [
    [truncated, "t1"],
    [flipped, "t2"],
    [flipped, "sr"],
  ]) {
    const r = cli("restore", f, "--name", name);
    assert.equal(r.status, 1, `${f} as ${name}: ${r.stdout}`);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.match(r.stderr, /^tvisor: body\.file: |^tvisor: .*(truncated|corrupt|checksum|CRC|invalid)/i);
    assert.deepEqual(
      (await daemon.call("GET", "/v1/vms")).body,
      listBefore,
      `${f} as ${name} changed nothing`,
    );
  }

  // The daemon restarts; the state file restores under a new name and continues where it was.
  await daemon.stop("SIGTERM");
  await daemon.start([]);
  const restored = cli("restore", file, "--name", "sr2");
  assert.equal(restored.status, 0, restored.stderr);
  assert.match(restored.stdout, /VM sr2: running/);
  const c2 = await ConsoleClient.open(daemon.socketPath, "sr2");
  c2.type("\n");
  assert.equal((await c2.run("echo $KEEP; pwd")).trim(), "kept-42\n/tmp");
  const resumed = Number((await c2.run("cat /tmp/count")).trim());
  assert.ok(resumed >= before, `the counter restarted from ${resumed} (was ${before} before the save)`);
  await countAbove(c2, resumed);
  c2.close();
  assert.equal(cli("kill", "sr2").status, 0);
});
