/**
 * Snapshots and clones through the daemon (CLI → Unix socket → VM process → qcow2): one booted guest
 * with a qcow2 disk, a shell variable, a file in RAM and a counter loop; snapshots of it running are
 * reverted in place with the console viewer attached; the tree branches; a middle snapshot is deleted and
 * the disk stays clean for qemu-img; a snapshot taken while a loop keeps dirtying memory (its RAM written
 * while the guest runs) reverts to one consistent instant; a stopped VM reverted to a snapshot resumes
 * its machine state at the next start; a linked clone boots and writes its own disk
 * while the source's disk stays byte for byte as it was.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { openImage } from "../../src/storage/node/open-image.js";
import { TVISOR_CLI } from "../boot/guest-session.js";
import { BOOT_TIMEOUT_MS, ConsoleClient, missingImages, TestDaemon } from "./harness.js";

const skip = missingImages();
const hasQemuImg = spawnSync("qemu-img", ["--version"]).status === 0;
const daemon = new TestDaemon();
let console_: ConsoleClient | null = null;
after(async () => {
  console_?.close();
  await daemon.dispose();
});

function cli(...args: string[]) {
  return spawnSync(process.execPath, [TVISOR_CLI, ...args, "--state-dir", daemon.stateDir], {
    encoding: "utf8",
  });
}

function ok(...args: string[]): string {
  const r = cli(...args);
  assert.equal(r.status, 0, `tvisor ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

function makeDisk(): void {
  const r = spawnSync(process.execPath, [TVISOR_CLI, "image", "create", "-f", "qcow2", diskPath(), "32M"], {
    encoding: "utf8",
  });
  assert.equal(r.status, 0, r.stderr);
}

const sha = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");

/** Poll (hang guard only) until `read` gives a number above `above`. */
async function until(read: () => Promise<number>, above: number): Promise<number> {
  const deadline = Date.now() + BOOT_TIMEOUT_MS;
  for (;;) {
    const n = await read();
    if (n > above) return n;
    if (Date.now() > deadline) throw new Error(`stayed at ${n}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

/** The guest's three kinds of state: a shell variable, a file in RAM, and the counter loop's value. */
async function guestState(c: ConsoleClient): Promise<{ v: string; f: string; n: number }> {
  const [v, f, n] = (await c.run("echo $KEEP; cat /tmp/f; cat /tmp/count")).trim().split("\n");
  return { v: v.trim(), f: f.trim(), n: Number(n) };
}

const diskPath = () => join(daemon.stateDir, "disk.qcow2");

test("snapshots of a running VM revert the shell, a RAM file and a counter in place; the tree branches", {
  timeout: 6 * BOOT_TIMEOUT_MS,
  skip: skip ?? false,
}, async (t) => {
  await daemon.start([]);
  makeDisk();
  ok("create", "sn", "--mem", "128M", "--disk", `${diskPath()},format=qcow2`);
  ok("start", "sn");
  const c = await ConsoleClient.open(daemon.socketPath, "sn");
  console_ = c;
  await c.waitForShell();
  await c.run("export KEEP=one; echo alpha > /tmp/f; touch /tmp/hold");
  // The loop counts only while /tmp/hold is absent, so the value at a snapshot is known exactly.
  await c.run(
    "(i=0; while true; do [ -e /tmp/hold ] || { i=$((i + 1)); echo $i > /tmp/count; }; sleep 0.2; done) >/dev/null 2>&1 & true",
  );
  await c.run("rm /tmp/hold");
  const n0 = await until(async () => (await guestState(c)).n, 2);
  await c.run("touch /tmp/hold; sleep 1");
  const at = await guestState(c);
  assert.ok(at.n >= n0);

  const made = ok("snapshot", "create", "sn", "s1");
  assert.match(made, /snapshot s1 of VM sn: machine state \d+ bytes in disk 0; paused \d+ ms/);

  // Change all three; the counter moves on.
  await c.run("KEEP=two; echo beta > /tmp/f; rm /tmp/hold");
  await until(async () => (await guestState(c)).n, at.n + 3);
  await c.run("touch /tmp/hold");
  ok("snapshot", "create", "sn", "s2");

  // Revert in place: the same console viewer keeps working, and everything is as at s1.
  assert.match(ok("snapshot", "revert", "sn", "s1"), /VM sn reverted to s1/);
  c.type("\n");
  assert.deepEqual(await guestState(c), at);
  await c.run("rm /tmp/hold");
  await until(async () => (await guestState(c)).n, at.n);

  // Two branches from s1: s3, then back to s1 and s4.
  await c.run("KEEP=three");
  ok("snapshot", "create", "sn", "s3");
  ok("snapshot", "revert", "sn", "s1");
  c.type("\n");
  assert.equal((await guestState(c)).v, "one");
  ok("snapshot", "create", "sn", "s4");
  const tree = ok("snapshot", "tree", "sn");
  const lines = tree.trimEnd().split("\n");
  assert.match(lines[0], /^└─ s1 /, tree);
  assert.deepEqual(
    lines.slice(1).map((l) => l.replace(/ +\[.*$/, "")),
    ["   ├─ s2", "   ├─ s3", "   └─ s4", "      └─ (now)"],
    tree,
  );
  const s3 = (await daemon.call("GET", "/v1/vms/sn/snapshots")).body as {
    current: string;
    snapshots: { name: string; parent: string | null }[];
  };
  assert.equal(s3.current, "s4");

  // Reverting to s3 takes its branch: the variable is as it was there.
  ok("snapshot", "revert", "sn", "s3");
  c.type("\n");
  assert.equal((await guestState(c)).v, "three");

  // Delete the middle snapshot: its children move up, the disk stays consistent.
  ok("snapshot", "delete", "sn", "s1");
  const after1 = (await daemon.call("GET", "/v1/vms/sn/snapshots")).body as typeof s3;
  assert.deepEqual(
    after1.snapshots.map((s) => [s.name, s.parent]),
    [
      ["s2", null],
      ["s3", null],
      ["s4", null],
    ],
  );
  assert.equal(after1.current, "s3");

  // A snapshot while the guest keeps dirtying memory: its RAM is written while it runs (pre-copy), so
  // the stream holds pages from many instants; the revert must still give one instant. The loop appends
  // its shell counter to a tmpfs log and rewrites a 1 MiB tmpfs file each turn: if the restored shell
  // memory (j) and page cache (the log) came from different instants, the log after the revert would
  // repeat or skip a number.
  await c.run(
    "(j=0; while true; do j=$((j + 1)); echo $j >> /tmp/d.log; dd if=/dev/urandom of=/tmp/blob bs=64k count=16 2>/dev/null; done) >/dev/null 2>&1 & echo $! > /tmp/d.pid",
  );
  const logLines = async () => Number((await c.run("wc -l < /tmp/d.log")).trim());
  await until(logLines, 3);
  const busy = await daemon.call("POST", "/v1/vms/sn/snapshots", { name: "busy" });
  assert.equal(busy.status, 201, JSON.stringify(busy.body));
  const pre = (busy.body as { precopy?: { rounds: number; pagesWhileRunning: number } }).precopy;
  assert.ok(
    pre && pre.rounds >= 1 && pre.pagesWhileRunning > 0,
    `RAM written while running: ${JSON.stringify(busy.body)}`,
  );
  const atSnap = await logLines();
  await until(logLines, atSnap + 2);
  await c.run("echo later > /tmp/after");
  ok("snapshot", "revert", "sn", "busy");
  c.type("\n");
  assert.equal((await c.run("cat /tmp/after 2>/dev/null || echo none")).trim(), "none");
  const reverted = await logLines();
  // The loop goes on from where the snapshot caught it, then stops; the log must count 1, 2, 3, ...
  await until(logLines, reverted + 2);
  await c.run("kill $(cat /tmp/d.pid); sleep 1");
  const checked = await c.run(
    'i=0; while read l; do i=$((i + 1)); [ "$l" = "$i" ] || echo BAD line $i holds $l; done < /tmp/d.log; echo checked $i',
  );
  assert.doesNotMatch(checked, /BAD/, checked);
  assert.match(checked, /checked \d+/);
  assert.ok(Number(/checked (\d+)/.exec(checked)![1]) > reverted, checked);
  c.close();
  console_ = null;
  ok("kill", "sn");

  // A stopped VM reverted to a snapshot with machine state continues from that state at its next
  // start (a boot would have no KEEP and no shell at the prompt until it finished booting).
  assert.match(ok("snapshot", "revert", "sn", "s3"), /VM sn reverted to s3/);
  ok("start", "sn");
  const c2 = await ConsoleClient.open(daemon.socketPath, "sn");
  console_ = c2;
  c2.type("\n");
  assert.equal((await guestState(c2)).v, "three");
  assert.match(daemon.log, /VM sn: resumed from snapshot s3/);
  c2.close();
  console_ = null;
  ok("kill", "sn");

  if (!hasQemuImg) return t.skip("qemu-img not installed: the interop checks need it");
  const check = spawnSync("qemu-img", ["check", diskPath()], { encoding: "utf8" });
  assert.equal(check.status, 0, check.stdout + check.stderr);
  assert.match(check.stdout, /No errors were found/);
  const list = spawnSync("qemu-img", ["snapshot", "-l", diskPath()], { encoding: "utf8" }).stdout;
  for (const s of ["s2", "s3", "s4", "busy"]) {
    const row = list.split("\n").find((l) => l.split(/\s+/)[1] === s);
    assert.ok(row, `${s} listed by qemu-img:\n${list}`);
    // VM SIZE column: a nonzero size with its unit.
    assert.match(row, new RegExp(`${s}\\s+[1-9][\\d.]* (KiB|MiB)`), row);
  }
  assert.ok(!list.split("\n").some((l) => l.split(/\s+/)[1] === "s1"), list);
});

test("a linked clone boots and writes its own disk; the source disk is unchanged and read-only for its VM", {
  timeout: 4 * BOOT_TIMEOUT_MS,
  skip: skip ?? false,
}, async () => {
  if (!daemon.child) await daemon.start([]);
  const vms = (await daemon.call("GET", "/v1/vms")).body as { vms: { name: string }[] };
  if (!vms.vms.some((v) => v.name === "sn")) {
    makeDisk();
    ok("create", "sn", "--mem", "128M", "--disk", `${diskPath()},format=qcow2`);
  }
  const before = sha(diskPath());
  assert.match(ok("clone", "sn", "lc", "--linked"), /VM lc: defined \(disks: .*lc\.qcow2\)/);
  const lc = (await daemon.call("GET", "/v1/vms/lc")).body as {
    definition: { nics?: unknown; disks: { path: string }[] };
  };
  const overlay = lc.definition.disks[0].path;
  // The source's disk is the clone's base now: starting the source writable is refused.
  const refused = cli("start", "sn");
  assert.equal(refused.status, 1);
  assert.match(refused.stderr, /^tvisor: .*base of linked clone "lc"/);

  ok("start", "lc");
  const c = await ConsoleClient.open(daemon.socketPath, "lc");
  console_ = c;
  await c.waitForShell();
  await c.run("printf 'clone-wrote-this' | dd of=/dev/vda bs=512 count=1 conv=sync,fsync 2>/dev/null; sync");
  c.close();
  console_ = null;
  ok("kill", "lc");

  assert.equal(sha(diskPath()), before, "the source disk is byte for byte as before");
  const img = await openImage(overlay, { format: "qcow2", readOnly: true });
  try {
    const b = new Uint8Array(16);
    await img.read(0, b);
    assert.equal(Buffer.from(b).toString(), "clone-wrote-this");
    assert.ok(img.backing, "the clone's disk is an overlay");
  } finally {
    await img.close();
  }
  // A full clone copies the current state; it has its own disk and no base.
  assert.match(ok("clone", "sn", "fc"), /VM fc: defined/);
  ok("rm", "lc");
  // With the linked clone gone, the source may write its disk again.
  ok("start", "sn");
  ok("kill", "sn");
});
