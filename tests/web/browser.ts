/** Headless Chromium for the web tests: Debian's `chromium` driven by playwright-core (no browser download). */
import { existsSync } from "node:fs";
import { type Browser, chromium } from "playwright-core";

export const CHROMIUM = process.env.TVISOR_CHROMIUM ?? "/usr/bin/chromium";

/** Why the browser tests cannot run here, or null. */
export function missingChromium(): string | null {
  return existsSync(CHROMIUM)
    ? null
    : `${CHROMIUM} is missing (apt-get install chromium; scripts/install.sh --test)`;
}

/**
 * One browser per test file. The flags keep Chromium from reaching the network on its own (component
 * updates, sync, QUIC probes), which on a machine without outside access otherwise refuses connections;
 * playwright gives each launch a fresh temporary profile (--user-data-dir).
 */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
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
}
