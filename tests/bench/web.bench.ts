/**
 * Web figures: the browser bundles' sizes; time from "Boot" to the shell prompt for the bundled guest in
 * headless Chromium (/play, interpreter) against the same guest started by the daemon in Node (interpreter
 * too, `jit: "off"`); and the console's keystroke-to-echo latency through the daemon's WebSocket.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { ConsoleClient, TestDaemon } from "../daemon/harness.js";
import { launchBrowser, missingChromium } from "../web/browser.js";

const WEB = fileURLToPath(new URL("../../web/", import.meta.url));

function bundleSizes(): void {
  for (const f of readdirSync(WEB).filter((n) => n.endsWith(".js") || n.endsWith(".css"))) {
    const bytes = readFileSync(join(WEB, f));
    console.log(
      `bundle ${f.padEnd(16)} ${(statSync(join(WEB, f)).size / 1024).toFixed(0).padStart(5)} KiB, gzip ${(gzipSync(bytes).length / 1024).toFixed(0).padStart(4)} KiB`,
    );
  }
}

async function nodeTimeToShell(d: TestDaemon): Promise<{ seconds: number; con: ConsoleClient }> {
  await d.call("POST", "/v1/vms", { name: "bench", memBytes: 128 * 1024 * 1024, jit: "off" });
  const t0 = performance.now();
  await d.call("POST", "/v1/vms/bench/start");
  const con = await ConsoleClient.open(d.socketPath, "bench");
  await con.waitFor(/root@tvisor:~# /, 600_000);
  return { seconds: (performance.now() - t0) / 1000, con };
}

/** Type one character at the prompt and wait for its echo, `n` times; milliseconds. */
async function echoLatency(con: ConsoleClient, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const ch = String.fromCharCode(97 + (i % 26));
    const from = con.output.length;
    const t0 = performance.now();
    con.type(ch);
    await con.waitFor(new RegExp(ch), 60_000, from);
    out.push(performance.now() - t0);
  }
  con.type("\x15"); // Ctrl-U: drop the typed line.
  return out.sort((a, b) => a - b);
}

export async function bench(): Promise<void> {
  bundleSizes();
  const d = new TestDaemon();
  await d.start(["--listen", "tcp:127.0.0.1:0"]);
  try {
    const node = await nodeTimeToShell(d);
    console.log(`time to shell, Node (daemon, interpreter): ${node.seconds.toFixed(1)} s`);
    const lat = await echoLatency(node.con, 60);
    const q = (p: number) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))].toFixed(2);
    console.log(
      `keystroke → echo through the daemon's WebSocket: median ${q(0.5)} ms, p95 ${q(0.95)} ms (n=${lat.length})`,
    );
    node.con.close();
    await d.call("POST", "/v1/vms/bench/kill");

    const why = missingChromium();
    if (why) {
      console.log(`browser figures skipped: ${why}`);
      return;
    }
    const browser = await launchBrowser();
    try {
      const page = await browser.newPage();
      await page.goto(`http://127.0.0.1:${d.tcpPort}/play`);
      await page.getByLabel("Memory (MiB)").fill("128");
      const t0 = performance.now();
      await page.getByRole("button", { name: "Boot" }).click();
      await page
        .locator("#terminal .xterm-rows > div")
        .filter({ hasText: /root@tvisor:~# / })
        .first()
        .waitFor({ timeout: 600_000 });
      console.log(
        `time to shell, Chromium tab (/play, interpreter, incl. fetching the guest): ${((performance.now() - t0) / 1000).toFixed(1)} s`,
      );
    } finally {
      await browser.close();
    }
  } finally {
    await d.dispose();
  }
}
