/** Host-side helpers for the NAT tests: is passt installed, which passt processes a process has, a free port. */
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { get } from "node:http";
import { createServer as createTcpServer } from "node:net";
import { HANG_GUARD_MS } from "./guest-session.js";

export function passtMissing(): string | null {
  try {
    execFileSync("passt", ["--version"], { stdio: "ignore" });
    return null;
  } catch {
    return "passt is not installed (Debian package passt)";
  }
}

/** Children of process `parent` named passt (NAT helpers). */
export function passtChildren(parent: number): number[] {
  const out: number[] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const status = readFileSync(`/proc/${d}/status`, "utf8");
      if (/^Name:\s+passt(\.avx2)?$/m.test(status) && new RegExp(`^PPid:\\s+${parent}$`, "m").test(status))
        out.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** Resolves once `pid` has exited (polled: a process has no exit event for non-parents). */
export async function gone(pid: number): Promise<void> {
  const until = Date.now() + HANG_GUARD_MS;
  while (existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8"))) {
    if (Date.now() > until) throw new Error(`process ${pid} still running`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A free TCP port on the host's loopback (the kernel picks it; we release it for passt to bind). */
export async function freePort(): Promise<number> {
  const s = createTcpServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** The body of a GET (any status). */
export function httpGet(url: string): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    get(url, (res) => {
      let b = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => {
        b += d;
      });
      res.on("end", () => resolve(b));
    }).on("error", reject);
  });
}
