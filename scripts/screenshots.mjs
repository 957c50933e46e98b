// Regenerates the web console's screenshots in docs/screenshots/ (run after `npm run build`):
//   node scripts/screenshots.mjs
// A throwaway daemon (temp state dir, TCP port 0) runs one VM of the bundled guest; headless Chromium
// (Debian's chromium, driven by playwright-core) logs in and photographs each page, then /play booted.
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "docs/screenshots");
mkdirSync(out, { recursive: true });
const state = mkdtempSync(join(tmpdir(), "tvisor-shots-"));
const daemon = spawn(
  process.execPath,
  [join(root, "dist/src/bin/tvisor.js"), "daemon", "--state-dir", state, "--listen", "tcp:127.0.0.1:0"],
  {
    stdio: ["ignore", "pipe", "inherit"],
  },
);
let browser;
try {
  let log = "";
  const port = await new Promise((resolve, reject) => {
    daemon.on("exit", (c) => reject(new Error(`daemon exited ${c}`)));
    daemon.stdout.on("data", (d) => {
      log += d;
      const m = /listening on tcp:127\.0\.0\.1:(\d+)/.exec(log);
      if (m && /ready:/.test(log)) resolve(Number(m[1]));
    });
  });
  const base = `http://127.0.0.1:${port}`;
  const token = readFileSync(join(state, "token"), "utf8").trim();
  browser = await chromium.launch({
    executablePath: process.env.TVISOR_CHROMIUM ?? "/usr/bin/chromium",
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  await page.goto(`${base}/`);
  await page.getByLabel("API token").waitFor();
  await page.screenshot({ path: join(out, "login.png") });
  await page.getByLabel("API token").fill(token);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.getByRole("link", { name: "Create VM" }).first().click();
  await page.getByLabel("Name").fill("demo");
  await page.getByLabel("Memory (MiB)").fill("10");
  await page.getByRole("button", { name: "Create" }).click();
  await page
    .locator("#vm-mem-error")
    .filter({ hasText: /memBytes/ })
    .waitFor();
  await page.screenshot({ path: join(out, "create.png") });
  await page.getByLabel("Memory (MiB)").fill("256");
  await page.getByRole("button", { name: "Create" }).click();
  await page.waitForURL(/#\/vm\/demo$/);
  await page.locator("button[data-action=start]").click();
  await page
    .locator("#terminal .xterm-rows > div")
    .filter({ hasText: /guest ready/ })
    .first()
    .waitFor({ timeout: 600_000 });
  await page.locator("#terminal").click();
  await page.keyboard.type("uname -a; free -m\n");
  // Enough stats readings for the plots to show a line.
  await page.waitForFunction(
    () => Number(document.querySelector("#plot-ips")?.dataset.points) >= 15,
    undefined,
    { timeout: 600_000 },
  );
  await page.screenshot({ path: join(out, "vm.png"), fullPage: true });
  await page.getByRole("link", { name: "VMs" }).click();
  await page.locator("tr[data-vm=demo] [data-state=running]").waitFor();
  await page.locator("tr[data-vm=demo] td.num").first().filter({ hasText: "%" }).waitFor();
  await page.screenshot({ path: join(out, "vms.png") });
  const phone = await browser.newPage({ viewport: { width: 390, height: 844 } });
  await phone.goto(`${base}/#token=${token}`);
  await phone.locator("tr[data-vm=demo]").waitFor();
  await phone.screenshot({ path: join(out, "vms-phone.png") });
  const play = await browser.newPage({ viewport: { width: 1100, height: 1000 } });
  await play.goto(`${base}/play`);
  await play.getByRole("button", { name: "Boot" }).click();
  await play
    .locator("#terminal .xterm-rows > div")
    .filter({ hasText: /root@tvisor:~# / })
    .first()
    .waitFor({ timeout: 600_000 });
  await play.locator("#terminal").click();
  await play.keyboard.type("cat /proc/cpuinfo | head -5\n");
  await play
    .locator("#terminal .xterm-rows > div")
    .filter({ hasText: /isa\s*:/ })
    .first()
    .waitFor();
  await play.screenshot({ path: join(out, "play.png"), fullPage: true });
  console.log(`screenshots written to ${out}`);
} finally {
  await browser?.close();
  daemon.kill("SIGTERM");
  await new Promise((r) => daemon.once("exit", r));
  rmSync(state, { recursive: true, force: true });
}
