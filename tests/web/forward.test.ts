/**
 * `tvisor web --open` against a daemon with only its Unix socket: the printed URL's port serves the page
 * without a token, forwards the API only with the daemon's token (header or WebSocket subprotocol), and
 * the token travels in the URL's fragment.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import WebSocket from "ws";
import { TVISOR_CLI } from "../boot/guest-session.js";
import { BOOT_TIMEOUT_MS, http, TestDaemon } from "../daemon/harness.js";

const daemon = new TestDaemon();
let fwd: ChildProcess | null = null;
let url = "";
let token = "";

before(async () => {
  await daemon.start([]);
  token = readFileSync(join(daemon.stateDir, "token"), "utf8").trim();
  const child = spawn(process.execPath, [TVISOR_CLI, "web", "--open", "--state-dir", daemon.stateDir], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  fwd = child;
  url = await new Promise<string>((resolve, reject) => {
    let out = "";
    const guard = setTimeout(() => reject(new Error(`no URL printed: ${out}`)), BOOT_TIMEOUT_MS);
    child.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /http:\/\/127\.0\.0\.1:\d+\/#token=[0-9a-f]+/.exec(out);
      if (m) {
        clearTimeout(guard);
        resolve(m[0]);
      }
    });
    child.on("exit", (code) => reject(new Error(`tvisor web exited ${code}: ${out}`)));
  });
});

after(async () => {
  if (fwd && fwd.exitCode === null) {
    const f = fwd;
    await new Promise<void>((resolve) => {
      f.once("exit", () => resolve());
      f.kill("SIGTERM");
    });
  }
  await daemon.dispose();
});

test("the URL carries the daemon's token in its fragment and a loopback port", () => {
  const u = new URL(url);
  assert.equal(u.hostname, "127.0.0.1");
  assert.notEqual(u.port, "");
  assert.equal(u.hash, `#token=${token}`);
});

test("the page needs no token; the API needs the daemon's", async () => {
  const port = Number(new URL(url).port);
  const page = await http({ port }, "GET", "/");
  assert.equal(page.status, 200);
  assert.match(page.text, /<title>tvisor<\/title>/);
  assert.match(String(page.headers["content-security-policy"]), /script-src 'self'/);
  assert.equal((await http({ port }, "GET", "/v1/vms")).status, 401);
  assert.equal((await http({ port }, "GET", "/v1/vms", { token: "0".repeat(64) })).status, 401);
  const ok = await http({ port }, "GET", "/v1/vms", { token });
  assert.equal(ok.status, 200);
  assert.deepEqual(ok.body, { vms: [] });
  const made = await http({ port }, "POST", "/v1/vms", { token, body: { name: "fw1" } });
  assert.equal(made.status, 201);
});

test("WebSocket upgrades pass only with the token subprotocol, and reach the daemon", async () => {
  const port = Number(new URL(url).port);
  const status = (protocols: string[]) =>
    new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/vms/fw1/console`, protocols);
      ws.on("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
      ws.on("open", () => {
        ws.close();
        resolve(101);
      });
      ws.on("error", (e) => reject(e));
    });
  assert.equal(await status(["tvisor.console"]), 401);
  assert.equal(await status(["tvisor.console", `tvisor.bearer.${"1".repeat(64)}`]), 401);
  // With the token the daemon answers: fw1 is defined but not running, so its console is a 409.
  assert.equal(await status(["tvisor.console", `tvisor.bearer.${token}`]), 409);
});
