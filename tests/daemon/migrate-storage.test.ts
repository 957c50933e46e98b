/**
 * Live migration with copied storage (`--copy-storage`) between two daemons with separate state dirs: a
 * guest appends a counter to a file on its virtio disk (ext2) and syncs after every line, all through the
 * migration. First the stream is cut halfway: the VM runs on at the source and the destination keeps
 * neither VM nor disk. Then the real migration: the destination made its own image under its state dir,
 * the file there goes on without a gap (every line n is n: no write the guest made during the copy was
 * lost), and `qemu-img check` finds the destination's image clean.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { TVISOR_CLI } from "../boot/guest-session.js";
import { CuttingProxy, cliAsync } from "./cutting-proxy.js";
import { BOOT_TIMEOUT_MS, ConsoleClient, missingImages, pollUntil, TestDaemon, until } from "./harness.js";

const skip =
  missingImages() ??
  (spawnSync("qemu-img", ["--version"]).status === 0
    ? null
    : "qemu-img is not installed (scripts/install.sh)");
const src = new TestDaemon();
const dst = new TestDaemon();
const proxy = new CuttingProxy();
after(async () => {
  proxy.close();
  await src.dispose();
  await dst.dispose();
});

const cli = cliAsync;

/** Lines in the log file on the guest's disk; poll (hang guard only) until there are more than `above`. */
async function linesAbove(c: ConsoleClient, above: number): Promise<number> {
  let n = 0;
  return pollUntil(
    async () => {
      n = Number((await c.run("wc -l < /mnt/d/log")).trim());
      return n > above ? n : undefined;
    },
    () => `the log stayed at ${n} lines`,
    300,
  );
}

async function vmsOf(d: TestDaemon): Promise<Array<{ name: string; state: string }>> {
  return ((await d.call("GET", "/v1/vms")).body as { vms: Array<{ name: string; state: string }> }).vms;
}

test("a guest writing its disk migrates with --copy-storage; a cut stream leaves the source running and no destination disk", {
  timeout: 4 * BOOT_TIMEOUT_MS,
  skip: skip ?? false,
}, async (t) => {
  await src.start();
  await dst.start();
  const tokenFile = join(dst.stateDir, "token");
  const srcDisk = join(src.stateDir, "data.qcow2");
  const dstDir = join(dst.stateDir, "disks", "mig");
  const dstDisk = join(dstDir, "data.qcow2");
  const made = spawnSync(process.execPath, [TVISOR_CLI, "image", "create", "-f", "qcow2", srcDisk, "32M"], {
    encoding: "utf8",
  });
  assert.equal(made.status, 0, made.stderr);
  let r = await cli(src.stateDir, "create", "mig", "--mem", "128M", "--disk", `${srcDisk},format=qcow2`);
  assert.equal(r.status, 0, r.stderr);
  r = await cli(src.stateDir, "start", "mig");
  assert.equal(r.status, 0, r.stderr);
  const c = await ConsoleClient.open(src.socketPath, "mig");
  await c.waitForShell();
  await c.run("mkfs.ext2 -q /dev/vda && mkdir -p /mnt/d && mount /dev/vda /mnt/d");
  // 4 MiB of data on the disk, so the cut below lands in the middle of the disk's copy.
  // (256 KiB of random bytes 16 times: generating 4 MiB with `yes` takes minutes in the emulated guest.)
  await c.run(
    "dd if=/dev/urandom of=/tmp/one bs=64k count=4 2>/dev/null; i=0; while [ $i -lt 16 ]; do cat /tmp/one; i=$((i + 1)); done > /mnt/d/fill && sync",
  );
  // Each line is the loop's counter, appended and synced (a virtio-blk flush) before the next.
  await c.run(
    "(i=0; while true; do i=$((i + 1)); echo $i >> /mnt/d/log; sync; done) >/dev/null 2>&1 & echo $! > /tmp/loop",
  );
  const first = await linesAbove(c, 5);

  // 1. Cut after 2 MiB: round 0 is still copying the disk.
  const proxyPort = await proxy.listen(dst.tcpPort, 2 << 20);
  const to = (port: number) => ["--to", `127.0.0.1:${port}`, "--token-file", tokenFile, "--copy-storage"];
  r = await cli(src.stateDir, "migrate", "mig", ...to(proxyPort));
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /^tvisor: .*migration failed: .+\n$/);
  assert.equal((await vmsOf(src)).find((v) => v.name === "mig")?.state, "running");
  const afterCut = await linesAbove(c, first);
  await until("the destination kept the failed VM", async () => (await vmsOf(dst)).length === 0);
  await until(`the destination kept ${dstDir}`, async () => !existsSync(dstDir));

  // 2. The real migration.
  r = await cli(src.stateDir, "migrate", "mig", ...to(dst.tcpPort), "--json");
  assert.equal(r.status, 0, r.stderr);
  t.diagnostic(`report: ${r.stdout.replace(/\s+/g, " ")}`);
  const report = JSON.parse(r.stdout) as { diskBytes: number; bytes: number; rounds: number };
  // The file and ext2's metadata were sent; the 32 MiB disk's unused blocks were not.
  assert.ok(report.diskBytes > 4 << 20 && report.diskBytes < 24 << 20, JSON.stringify(report));
  assert.equal((await src.call("GET", "/v1/vms/mig")).status, 404);
  assert.ok(existsSync(srcDisk), "the source's disk file is left where it was");
  const info = (await dst.call("GET", "/v1/vms/mig")).body as {
    state: string;
    definition: { disks: Array<{ path: string; format: string }> };
  };
  assert.equal(info.state, "running");
  assert.deepEqual(
    info.definition.disks.map((d) => [d.path, d.format]),
    [[dstDisk, "qcow2"]],
  );
  c.close();

  const d = await ConsoleClient.open(dst.socketPath, "mig");
  d.type("\n");
  const there = await linesAbove(d, afterCut);
  await linesAbove(d, there);
  await d.run("kill $(cat /tmp/loop)");
  // Line n holds n, from the first line through the copy to the last: no write went missing.
  const check = await d.run(
    'awk \'NR != $1 { print "gap at line " NR ": " $1; exit } END { print "lines " NR }\' /mnt/d/log',
  );
  assert.match(check.trim(), /^lines \d+$/, check);
  assert.ok(Number(check.trim().split(" ")[1]) > there);
  await d.run("umount /mnt/d && sync");
  d.type("poweroff -f\n");
  await until("the destination's VM did not power off", async () =>
    (await vmsOf(dst)).some((v) => v.name === "mig" && v.state !== "running"),
  );
  d.close();
  const q = spawnSync("qemu-img", ["check", "-f", "qcow2", dstDisk], { encoding: "utf8" });
  assert.equal(q.status, 0, q.stdout + q.stderr);
  assert.match(q.stdout, /No errors were found/);
});
