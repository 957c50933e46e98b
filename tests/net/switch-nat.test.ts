/**
 * A switch's NAT uplink: `tvisor switch lan --nat hostfwd=...` runs as its own process with one passt;
 * a guest on the switch gets its address by DHCP, fetches a page from the host's loopback, answers a
 * host client through the uplink's port forward, keeps working after passt is killed (restarted), and
 * the passt ends with the switch.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { switchDirOf } from "../../src/base/node/state-dir.js";
import { ApiError } from "../../src/daemon/api-error.js";
import { NetSwitches } from "../../src/daemon/net-switch.js";
import type { NetBackend } from "../../src/io/net-backend.js";
import { USER_NET } from "../../src/net/node/passt.js";
import { openSwitchClient } from "../../src/net/node/switch-port.js";
import {
  BOOT_TEST_TIMEOUT_MS,
  GuestSession,
  HANG_GUARD_MS,
  missingImages,
  TVISOR_CLI,
} from "../boot/guest-session.js";
import { freePort, gone, httpGet, passtChildren, passtMissing } from "../boot/passt-helpers.js";

const PAGE = "hello through the switch\n";

/** Resolves once `pred()` holds, polled (a process tree has no event for "a child appeared"). */
async function until<T>(what: string, f: () => T | undefined): Promise<T> {
  const end = Date.now() + HANG_GUARD_MS;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`hang guard: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test("a switch's NAT uplink: DHCP, HTTP to the host, a port forward, passt supervised and ended with the switch", {
  timeout: BOOT_TEST_TIMEOUT_MS,
}, async (t) => {
  const why = missingImages() ?? passtMissing();
  if (why) return t.skip(why);
  const dir = mkdtempSync(join(tmpdir(), "tvisor-switch-nat-"));
  const http: Server = createServer((_req, res) => res.end(PAGE));
  await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
  const httpPort = (http.address() as { port: number }).port;
  const fwdPort = await freePort();
  let sw: ChildProcess | null = null;
  let port: NetBackend | null = null;
  let g: GuestSession | null = null;
  let passt: number[] = [];
  try {
    const child = spawn(
      process.execPath,
      [TVISOR_CLI, "switch", "lan", "--nat", `hostfwd=tcp:127.0.0.1:${fwdPort}-:8080`],
      { env: { ...process.env, TVISOR_STATE_DIR: dir }, stdio: ["ignore", "pipe", "pipe"] },
    );
    sw = child;
    let out = "";
    await new Promise<void>((resolve, reject) => {
      child.stdout?.on("data", (d: Buffer) => {
        out += d.toString();
        if (out.includes("with a NAT uplink")) resolve();
      });
      child.stderr?.on("data", (d: Buffer) => {
        out += d.toString();
      });
      child.once("exit", (code) => reject(new Error(`tvisor switch exited (${code}): ${out}`)));
    });
    const swPid = child.pid as number;
    passt = passtChildren(swPid);
    assert.equal(passt.length, 1, "one passt for the switch");

    port = await openSwitchClient("lan", switchDirOf(dir));
    const guest = new GuestSession({ nics: [{ backend: port, mac: "52:54:00:5a:10:01" }] });
    g = guest;
    await guest.waitForShell();

    await t.test("a guest on the switch gets its address by DHCP from the uplink", async () => {
      await guest.run("udhcpc -i eth0 -q -n -t 10 >/dev/null 2>&1; echo done");
      assert.match(
        await guest.run("ip -4 addr show dev eth0"),
        new RegExp(`inet ${USER_NET.guest.replace(/\./g, "\\.")}/24`),
      );
    });

    await t.test("it fetches a page from the host's loopback through the gateway", async () => {
      assert.equal(await guest.run(`wget -q -O - http://${USER_NET.gateway}:${httpPort}/`), PAGE.trim());
    });

    await t.test("the uplink's hostfwd reaches a server in the guest", async () => {
      await guest.run(
        "mkdir -p /www && echo guest-page > /www/index.html && httpd -p 8080 -h /www && echo up",
      );
      assert.equal(await httpGet(`http://127.0.0.1:${fwdPort}/`), "guest-page\n");
    });

    await t.test("passt killed: the switch starts another and the guest reaches the host again", async () => {
      process.kill(passt[0], "SIGKILL");
      await gone(passt[0]);
      const old = passt[0];
      passt = await until("a new passt", () => {
        const now = passtChildren(swPid).filter((p) => p !== old);
        return now.length === 1 ? now : undefined;
      });
      // The switch port stays up while passt restarts, so the guest retries until the uplink serves.
      assert.equal(
        (
          await guest.run(
            `until timeout 5 wget -q -O /tmp/p http://${USER_NET.gateway}:${httpPort}/; do sleep 0.2; done; cat /tmp/p`,
          )
        ).trim(),
        PAGE.trim(),
      );
    });

    await t.test("stopping the switch ends its passt", async () => {
      child.kill("SIGTERM");
      for (const p of passt) await gone(p);
    });
  } finally {
    await g?.close().catch(() => {});
    port?.close();
    sw?.kill("SIGKILL");
    for (const p of passt) await gone(p).catch(() => {});
    http.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the daemon's switches: POST /v1/switches's NAT uplink is one passt, listed, refused twice, ended at shutdown", async (t) => {
  const why = passtMissing();
  if (why) return t.skip(why);
  const dir = mkdtempSync(join(tmpdir(), "tvisor-switch-nat-"));
  const before = new Set(passtChildren(process.pid));
  const nets = new NetSwitches(join(dir, "switches"), () => {});
  let passt: number[] = [];
  try {
    const info = await nets.create("lan", { hostfwd: [] });
    assert.equal(info.natUplink, "up");
    passt = passtChildren(process.pid).filter((p) => !before.has(p));
    assert.equal(passt.length, 1, "one passt for the switch");
    await assert.rejects(
      nets.create("lan", { hostfwd: [] }),
      (e) => e instanceof ApiError && e.status === 409,
    );
    // A switch without an uplink can be given one.
    nets.attach("other", () => {});
    assert.equal((await nets.create("other", { hostfwd: [] })).natUplink, "up");
    passt = passtChildren(process.pid).filter((p) => !before.has(p));
    assert.equal(passt.length, 2);
    assert.deepEqual(
      nets.list().map((s) => [s.name, s.natUplink]),
      [
        ["lan", "up"],
        ["other", "up"],
      ],
    );
  } finally {
    nets.close();
    for (const p of passt) await gone(p);
    rmSync(dir, { recursive: true, force: true });
  }
});
