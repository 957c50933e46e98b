/**
 * The VM in a tab, in headless Chromium: `tvisor web --standalone DIR` writes the page, a plain static
 * server serves DIR, the page boots the bundled guest in a Web Worker to its shell and runs a command;
 * the state saved in the page (a download) restores under the daemon (`tvisor restore`) and in the page,
 * and the shell goes on in both (a shell variable set before the save is still there).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { extname, join, normalize } from "node:path";
import { after, before, test } from "node:test";
import type { Browser, Page } from "playwright-core";
import { TVISOR_CLI } from "../boot/guest-session.js";
import { BOOT_TIMEOUT_MS, ConsoleClient, http, missingImages, TestDaemon } from "../daemon/harness.js";
import { launchBrowser, missingChromium } from "./browser.js";

const skip = missingImages() ?? missingChromium();
const work = mkdtempSync(join(tmpdir(), "tvisor-play-"));
const site = join(work, "site");
const stateFile = join(work, "page.state");
const daemon = new TestDaemon();
let server: Server | null = null;
let base = "";
let browser: Browser | null = null;
let page: Page | null = null;

const TYPES: Record<string, string> = {
  ".html": "text/html",
  ".js": "text/javascript",
  ".css": "text/css",
  ".gz": "application/octet-stream",
};

before(async () => {
  if (skip) return;
  const r = spawnSync(process.execPath, [TVISOR_CLI, "web", "--standalone", site], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /wrote \d+ files/);
  // Any static file server will do; this one is a few lines.
  server = createServer((req, res) => {
    const rel =
      normalize(decodeURIComponent((req.url ?? "/").split("?")[0])).replace(/^\/+/, "") || "index.html";
    try {
      const body = readFileSync(join(site, rel));
      res.writeHead(200, { "content-type": TYPES[extname(rel)] ?? "application/octet-stream" });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server?.listen(0, "127.0.0.1", resolve));
  const addr = server.address();
  base = `http://127.0.0.1:${typeof addr === "object" && addr ? addr.port : 0}`;
  browser = await launchBrowser();
  page = await browser.newPage();
});

after(async () => {
  await browser?.close().catch(() => {});
  server?.close();
  await daemon.call("POST", "/v1/vms/page/kill").catch(() => {});
  await daemon.dispose();
  rmSync(work, { recursive: true, force: true });
});

async function waitRow(p: Page, text: RegExp): Promise<void> {
  await p
    .locator("#terminal .xterm-rows > div")
    .filter({ hasText: text })
    .first()
    .waitFor({ timeout: BOOT_TIMEOUT_MS });
}

test("the standalone page boots the bundled guest in a worker and runs a command", {
  skip: skip ?? false,
  timeout: 2 * BOOT_TIMEOUT_MS,
}, async () => {
  const p = page as Page;
  await p.goto(`${base}/`);
  await p.getByRole("button", { name: "Boot" }).click();
  await p.locator("#status[data-state=running]").waitFor({ timeout: BOOT_TIMEOUT_MS });
  await waitRow(p, /root@tvisor:~# /);
  await p.locator("#terminal").click();
  await p.keyboard.type("uname -m; PLAYMARK=m$((40+2))\n");
  await waitRow(p, /^\s*riscv64\s*$/);
});

test("a state file saved in the page restores under the daemon and in the page; the shell goes on", {
  skip: skip ?? false,
  timeout: 2 * BOOT_TIMEOUT_MS,
}, async () => {
  const p = page as Page;
  const download = p.waitForEvent("download", { timeout: BOOT_TIMEOUT_MS });
  await p.getByRole("button", { name: "Save state to a file" }).click();
  await (await download).saveAs(stateFile);
  assert.ok(statSync(stateFile).size > 0);
  await p.locator("#status[data-state=running]").waitFor({ timeout: BOOT_TIMEOUT_MS });

  // Under the daemon: `tvisor restore` defines the VM from the file (the bundled guest by name) and resumes it.
  await daemon.start([]);
  const r = spawnSync(
    process.execPath,
    [TVISOR_CLI, "restore", stateFile, "--name", "page", "--state-dir", daemon.stateDir],
    {
      encoding: "utf8",
      timeout: BOOT_TIMEOUT_MS,
    },
  );
  assert.equal(r.status, 0, r.stderr);
  const info = await http(daemon.sock, "GET", "/v1/vms/page");
  assert.equal((info.body as { state: string }).state, "running");
  const con = await ConsoleClient.open(daemon.socketPath, "page");
  try {
    con.type("\n");
    assert.equal((await con.run("echo $PLAYMARK")).trim(), "m42");
  } finally {
    con.close();
  }

  // In the page: pick the file; the restored shell still has the variable.
  await p.locator("#restore-file").setInputFiles(stateFile);
  await p.locator("#status[data-state=running]").waitFor({ timeout: BOOT_TIMEOUT_MS });
  await p.locator("#terminal").click();
  await p.keyboard.type("\necho v=$PLAYMARK\n");
  await waitRow(p, /^\s*v=m42\s*$/);
});

test("the daemon serves the page at /play with the bundled guest", { skip: skip ?? false }, async () => {
  if (!daemon.child) await daemon.start([]);
  const pageRes = await http(daemon.sock, "GET", "/play");
  assert.equal(pageRes.status, 200);
  assert.match(pageRes.text, /play\.js/);
  const kernel = await http(daemon.sock, "GET", "/images/Image.gz");
  assert.equal(kernel.status, 200);
  assert.match(String(pageRes.headers["content-security-policy"]), /wasm-unsafe-eval/);
});
