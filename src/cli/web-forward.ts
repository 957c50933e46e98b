/**
 * `tvisor web --open`: a loopback TCP port in front of the daemon's Unix socket, so a browser can reach a
 * daemon that has no TCP endpoint. The socket trusts whoever can open it (its file mode); a TCP port is
 * open to every local user, so the forwarder asks for the daemon's token itself before passing anything
 * but the public page files on (the same rule the daemon's TCP endpoints apply).
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { readFile } from "node:fs/promises";
import { createServer, type IncomingMessage, request, type Server } from "node:http";
import { connect } from "node:net";
import { join } from "node:path";
import type { Duplex } from "node:stream";
import { bearerFromProtocols } from "../api/console-protocol.js";
import { UserError } from "../base/errors.js";

function same(a: string, b: string): boolean {
  // Digests first: equal lengths for timingSafeEqual, and neither length nor prefix leaks through timing.
  return timingSafeEqual(createHash("sha256").update(a).digest(), createHash("sha256").update(b).digest());
}

function isPublic(url: string | undefined): boolean {
  const path = (url ?? "/").split("?")[0];
  return !path.startsWith("/v1/") && path !== "/metrics";
}

function givenToken(req: IncomingMessage): string | null {
  const h = req.headers.authorization;
  if (typeof h === "string" && h.startsWith("Bearer ")) return h.slice(7).trim();
  return bearerFromProtocols(req.headers["sec-websocket-protocol"]);
}

export async function readDaemonToken(stateDir: string): Promise<string> {
  try {
    const t = (await readFile(join(stateDir, "token"), "utf8")).trim();
    if (/^[0-9a-f]{64}$/.test(t)) return t;
  } catch {}
  throw new UserError(
    `no API token in ${join(stateDir, "token")}; start the daemon first: tvisor daemon --state-dir ${stateDir}`,
  );
}

export interface Forwarder {
  server: Server;
  port: number;
  close(): Promise<void>;
}

/** Listen on 127.0.0.1:`port` (0: any free port) and forward HTTP and WebSocket upgrades to `socketPath`. */
export async function startForwarder(socketPath: string, token: string, port = 0): Promise<Forwarder> {
  const server = createServer((req, res) => {
    if (!isPublic(req.url)) {
      const given = givenToken(req);
      if (given === null || !same(given, token)) {
        res.writeHead(401, {
          "content-type": "application/json",
          "www-authenticate": 'Bearer realm="tvisor"',
        });
        res.end(JSON.stringify({ error: given === null ? "missing bearer token" : "wrong bearer token" }));
        return;
      }
    }
    const up = request({ socketPath, method: req.method, path: req.url, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on("error", (e) => {
      if (!res.headersSent) res.writeHead(502, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: `the daemon does not answer on ${socketPath}: ${e.message}` }));
    });
    res.on("close", () => up.destroy());
    req.pipe(up);
  });
  server.on("upgrade", (req: IncomingMessage, sock: Duplex, head: Buffer) => {
    const given = givenToken(req);
    if (given === null || !same(given, token)) {
      sock.end("HTTP/1.1 401 Unauthorized\r\nconnection: close\r\ncontent-length: 0\r\n\r\n");
      return;
    }
    const up = connect(socketPath);
    up.on("connect", () => {
      // Replay the request head as received; the daemon answers the upgrade itself.
      let text = `${req.method} ${req.url} HTTP/1.1\r\n`;
      for (let i = 0; i < req.rawHeaders.length; i += 2)
        text += `${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}\r\n`;
      up.write(`${text}\r\n`);
      if (head.length) up.write(head);
      up.pipe(sock);
      sock.pipe(up);
    });
    const end = () => {
      up.destroy();
      sock.destroy();
    };
    up.on("error", end);
    sock.on("error", end);
    up.on("close", end);
    sock.on("close", end);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  const addr = server.address();
  const bound = typeof addr === "object" && addr ? addr.port : port;
  return {
    server,
    port: bound,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
