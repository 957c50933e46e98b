/**
 * Named switches across processes: `tvisor switch A` and `tvisor switch B` run as their own processes;
 * a guest in this process and a `tvisor run` guest in another join A and exchange data both ways; a
 * third guest on B (QEMU when installed: it boots fastest; else another `tvisor run`) sees neither.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { switchDirOf } from "../../src/base/node/state-dir.js";
import type { NetBackend } from "../../src/io/net-backend.js";
import { openSwitchClient } from "../../src/net/node/switch-port.js";
import { BOOT_TEST_TIMEOUT_MS, GuestSession, missingImages, TVISOR_CLI } from "../boot/guest-session.js";
import { missingQemu, ProcessSession, QemuSession } from "../boot/qemu-session.js";

const LOSS_FREE = /(\d+) packets transmitted, \1 packets received, 0% packet loss/;
const MAC = ["52:54:00:5a:00:01", "52:54:00:5a:00:02", "52:54:00:5a:00:03"];
const IP = ["10.0.40.1", "10.0.40.2", "10.0.40.3"];

interface Shell {
  run(cmd: string): Promise<string>;
}

/** Start `tvisor switch NAME`; resolves once it says it is listening. */
function startSwitch(name: string, env: NodeJS.ProcessEnv, children: ChildProcess[]): Promise<void> {
  const child = spawn(process.execPath, [TVISOR_CLI, "switch", name], {
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let out = "";
  return new Promise((resolve, reject) => {
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes(`switch ${name} on `)) resolve();
    });
    child.stderr.on("data", (d: Buffer) => {
      out += d.toString();
    });
    child.once("exit", (code) => reject(new Error(`tvisor switch ${name} exited (${code}): ${out}`)));
  });
}

async function configure(g: Shell, ip: string): Promise<void> {
  const out = await g.run(
    `ip addr add ${ip}/24 dev eth0 && ip link set eth0 up && ` +
      'until [ "$(cat /sys/class/net/eth0/operstate)" = up ]; do sleep 0.1; done; echo ok',
  );
  assert.equal(out.trim(), "ok");
}

/** Send 64 KiB of random data over TCP and compare md5 on both sides. */
async function transfer(from: Shell, to: Shell, toIp: string, port: number): Promise<void> {
  const listening = await to.run(
    `nc -l -p ${port} > /tmp/recv & while ! netstat -ltn 2>/dev/null | grep -q ':${port} '; do usleep 20000; done; echo listening`,
  );
  assert.equal(listening.trim(), "listening");
  const sent = (await from.run("head -c 65536 /dev/urandom > /tmp/data; md5sum < /tmp/data")).trim();
  assert.equal((await from.run(`nc ${toIp} ${port} < /tmp/data; echo rc=$?`)).trim(), "rc=0");
  await to.run("wait");
  assert.equal((await to.run("md5sum < /tmp/recv")).trim(), sent);
}

test("two VMs in separate processes share switch A both ways; a VM on switch B sees neither", {
  timeout: BOOT_TEST_TIMEOUT_MS,
}, async (t) => {
  const why = missingImages();
  if (why) return t.skip(why);
  const dir = mkdtempSync(join(tmpdir(), "tvisor-switch-"));
  const env = { ...process.env, TVISOR_STATE_DIR: dir };
  const children: ChildProcess[] = [];
  const sessions: { close(): Promise<void> }[] = [];
  let port: NetBackend | null = null;
  try {
    await Promise.all([startSwitch("A", env, children), startSwitch("B", env, children)]);
    port = await openSwitchClient("A", switchDirOf(dir));
    const one = new GuestSession({ nics: [{ backend: port, mac: MAC[0] }] });
    sessions.push(one);
    const tvisorRun = (sw: string, mac: string) =>
      ProcessSession.boot(process.execPath, [TVISOR_CLI, "run", "--nic", `switch=${sw},mac=${mac}`], env);
    const qemu = missingQemu() === null;
    const [two, three] = await Promise.all([
      tvisorRun("A", MAC[1]),
      qemu
        ? QemuSession.start(dir, [
            "-netdev",
            `stream,id=n0,server=off,addr.type=unix,addr.path=${join(switchDirOf(dir), "B.sock")}`,
            "-device",
            `virtio-net-device,netdev=n0,mac=${MAC[2]}`,
          ])
        : tvisorRun("B", MAC[2]),
      one.waitForShell(),
    ]);
    sessions.push(two, three);
    await Promise.all([configure(one, IP[0]), configure(two, IP[1]), configure(three, IP[2])]);

    await t.test("on switch A: ping and TCP both ways between the processes", async () => {
      assert.match(await one.run(`ping -c 3 -i 0.2 ${IP[1]}`), LOSS_FREE);
      assert.match(await two.run(`ping -c 3 -i 0.2 ${IP[0]}`), LOSS_FREE);
      await transfer(one, two, IP[1], 5001);
      await transfer(two, one, IP[0], 5002);
    });

    await t.test("switch B is another network: no answer either way, no neighbour learned", async () => {
      assert.match(await three.run(`ping -c 2 -W 1 ${IP[0]}`), /2 packets transmitted, 0 packets received/);
      assert.match(await one.run(`ping -c 2 -W 1 ${IP[2]}`), /2 packets transmitted, 0 packets received/);
      assert.doesNotMatch(await one.run("ip neigh show dev eth0"), new RegExp(MAC[2]));
      assert.doesNotMatch(await three.run("ip neigh show dev eth0"), new RegExp(`${MAC[0]}|${MAC[1]}`));
    });
  } finally {
    await Promise.all(sessions.map((s) => s.close().catch(() => {})));
    port?.close();
    for (const c of children) c.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
});
