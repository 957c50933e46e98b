/**
 * The daemon's web console in headless Chromium against a real daemon (TCP endpoint, bearer token): log in,
 * create a VM through the form (an invalid field first, whose API error shows beside it), start it, type
 * `uname -m` in the xterm.js terminal and read `riscv64`, pause and resume, watch the plots gain points; a
 * wrong token shows the login again. Every wait is for something on the page (hang guard only).
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { Browser, Page } from "playwright-core";
import { BOOT_TIMEOUT_MS, missingImages, TestDaemon } from "../daemon/harness.js";
import { launchBrowser, missingChromium } from "./browser.js";

const skip = missingImages() ?? missingChromium();
const daemon = new TestDaemon();
let browser: Browser | null = null;
let base = "";
let token = "";

before(async () => {
  if (skip) return;
  await daemon.start(["--listen", "tcp:127.0.0.1:0"]);
  base = `http://127.0.0.1:${daemon.tcpPort}`;
  token = readFileSync(join(daemon.stateDir, "token"), "utf8").trim();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close().catch(() => {});
  await daemon.call("POST", "/v1/vms/web1/kill").catch(() => {});
  await daemon.dispose();
});

async function logIn(page: Page, withToken: string): Promise<void> {
  await page.goto(`${base}/`);
  await page.getByLabel("API token").fill(withToken);
  await page.getByRole("button", { name: "Log in" }).click();
}

/** Check `cond` every 200 ms until it holds (hang guard only). */
async function until(what: string, cond: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + BOOT_TIMEOUT_MS;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Wait for a terminal row reading exactly `text` (xterm.js's DOM renderer draws one div per row). */
async function waitRow(page: Page, text: RegExp): Promise<void> {
  await page
    .locator("#terminal .xterm-rows > div")
    .filter({ hasText: text })
    .first()
    .waitFor({ timeout: BOOT_TIMEOUT_MS });
}

test("a wrong token shows the login again, with the reason", { skip: skip ?? false }, async () => {
  const page = await (browser as Browser).newPage();
  try {
    await logIn(page, "0".repeat(64));
    await page.getByRole("alert").filter({ hasText: "not accepted" }).waitFor();
    assert.equal(await page.getByLabel("API token").isVisible(), true);
    // A wrong token in a `tvisor web --open` style URL is kept, checked, and leads back to the login.
    await page.goto(`${base}/#token=${"f".repeat(64)}`);
    await page.getByRole("alert").filter({ hasText: "did not accept" }).waitFor();
    await page.goto(`${base}/#/create`);
    await page.getByLabel("API token").waitFor();
    assert.equal(await page.locator("#create-form").count(), 0);
  } finally {
    await page.close();
  }
});

test("log in, create through the form, start, type in the terminal, pause, resume, plots", {
  skip: skip ?? false,
  timeout: 4 * BOOT_TIMEOUT_MS,
}, async () => {
  const page = await (browser as Browser).newPage({ viewport: { width: 1100, height: 1000 } });
  try {
    await logIn(page, token);
    await page.getByRole("heading", { name: "Virtual machines" }).waitFor();

    await page.getByRole("link", { name: "Create VM" }).first().click();
    await page.getByLabel("Name").fill("web1");
    // 3.5 MiB is not a whole number of pages: the API's error lands beside the memory field.
    await page.getByLabel("Memory (MiB)").fill("3.5");
    await page.getByRole("button", { name: "Create" }).click();
    const memError = page.locator("#vm-mem-error");
    await memError.filter({ hasText: /memBytes/ }).waitFor();
    assert.equal(await page.getByLabel("Memory (MiB)").getAttribute("aria-invalid"), "true");
    await page.getByLabel("Memory (MiB)").fill("256");
    await page.getByRole("button", { name: "Create" }).click();
    await page.waitForURL(/#\/vm\/web1$/);
    const vm = page.locator("section[data-vm=web1]");
    await vm.and(page.locator("[data-state=defined]")).waitFor();

    await page.locator("button[data-action=start]").click();
    await page.locator("section[data-vm=web1][data-state=running]").waitFor({ timeout: BOOT_TIMEOUT_MS });
    await page.locator("#terminal[data-connected=true]").waitFor({ timeout: BOOT_TIMEOUT_MS });
    await waitRow(page, /guest ready/);
    await page.locator("#terminal").click();
    await page.keyboard.type("uname -m\n");
    await waitRow(page, /^\s*riscv64\s*$/);
    await waitRow(page, /# uname -m/);

    // The plots gain points while the VM runs (one per stats reading).
    const points = async () => Number(await page.locator("#plot-ips").getAttribute("data-points"));
    const before = await points();
    await until("three more plot points", async () => (await points()) >= before + 3);
    const ipsPoints = await page.locator("#plot-ips polyline").getAttribute("points");
    assert.ok((ipsPoints ?? "").split(" ").length >= before + 3);

    await page.locator("button[data-action=pause]").click();
    await page.locator("section[data-vm=web1][data-state=paused]").waitFor({ timeout: BOOT_TIMEOUT_MS });
    assert.equal(await page.locator("button[data-action=resume]").isEnabled(), true);
    assert.equal(await page.locator("button[data-action=pause]").isEnabled(), false);
    await page.locator("button[data-action=resume]").click();
    await page.locator("section[data-vm=web1][data-state=running]").waitFor({ timeout: BOOT_TIMEOUT_MS });
    // Running again: the shell answers.
    await page.locator("#terminal").click();
    await page.keyboard.type("echo $((6*7))x\n");
    await waitRow(page, /^\s*42x\s*$/);

    // The list shows the VM with live figures.
    await page.getByRole("link", { name: "VMs" }).click();
    const row = page.locator("tr[data-vm=web1]");
    await row.locator("[data-state=running]").waitFor();
    await row.locator("td.num").first().filter({ hasText: "%" }).waitFor({ timeout: BOOT_TIMEOUT_MS });
  } finally {
    await page.close();
  }
});
