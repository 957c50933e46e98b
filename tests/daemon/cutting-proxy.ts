/**
 * Test helpers for migrations driven through the CLI: the CLI run asynchronously (the test's daemons must
 * keep being served while it waits), and a TCP proxy that cuts a migration stream part-way through.
 */
import { spawn } from "node:child_process";
import { createServer, type Server, Socket } from "node:net";
import { TVISOR_CLI } from "../boot/guest-session.js";

export type CliRun = { status: number | null; stdout: string; stderr: string };

/** `tvisor ARGS --state-dir STATEDIR`, asynchronously. */
export function cliAsync(stateDir: string, ...args: string[]): Promise<CliRun> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [TVISOR_CLI, ...args, "--state-dir", stateDir]);
    let stdout = "";
    let stderr = "";
    c.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    c.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    c.on("close", (status) => resolve({ status, stdout, stderr }));
  });
}

/** A TCP proxy to a loopback port that cuts both sides once `limit` bytes went from client to server. */
export class CuttingProxy {
  private readonly sockets = new Set<Socket>();
  private server: Server | null = null;

  /** Listens on a free loopback port and resolves with it. */
  listen(port: number, limit: number): Promise<number> {
    return new Promise((resolve) => {
      const proxy = createServer((client) => {
        const server = new Socket();
        this.sockets.add(client);
        this.sockets.add(server);
        let passed = 0;
        server.connect(port, "127.0.0.1");
        client.on("data", (d: Buffer) => {
          passed += d.length;
          if (passed > limit) {
            client.destroy();
            server.destroy();
            return;
          }
          server.write(d);
        });
        server.on("data", (d: Buffer) => client.write(d));
        client.on("error", () => server.destroy());
        server.on("error", () => client.destroy());
        client.on("close", () => server.destroy());
        server.on("close", () => client.destroy());
      });
      this.server = proxy;
      proxy.listen(0, "127.0.0.1", () => {
        const a = proxy.address();
        resolve(typeof a === "object" && a ? a.port : 0);
      });
    });
  }

  close(): void {
    for (const s of this.sockets) s.destroy();
    this.server?.close();
  }
}
