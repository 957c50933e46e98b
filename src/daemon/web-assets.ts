/**
 * The web console's files (dist/web, built by scripts/build-web.mjs) served at `/`, and the in-tab VM at
 * `/play` with the bundled guest under `/images/`. These files hold no secrets and are served without
 * the token; everything they do goes through /v1, which needs it.
 */
import { readdirSync, readFileSync } from "node:fs";
import { extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { FastifyInstance } from "fastify";

/** dist/web, relative to dist/src/daemon/. */
export const WEB_DIR = fileURLToPath(new URL("../../web/", import.meta.url));
/** The bundled guest the in-tab VM boots, relative to dist/src/daemon/. */
export const GUEST_DIR = fileURLToPath(new URL("../../../images/riscv64/", import.meta.url));
/** The guest files /play fetches. */
export const GUEST_FILES = ["Image.gz", "initramfs.cpio.gz"];

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".map": "application/json",
  ".json": "application/json",
  ".gz": "application/octet-stream",
};

/**
 * Content-Security-Policy (CSP Level 3): only this origin's scripts; 'wasm-unsafe-eval' lets the in-tab
 * engine's JIT compile WebAssembly; inline styles for xterm.js, which sizes its rows with style elements.
 */
export const CSP =
  "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; " +
  "img-src 'self' data:; connect-src 'self'; worker-src 'self'; frame-ancestors 'none'; base-uri 'none'";

/** Paths served without the token (the rest of the API checks it). */
export function isPublicAsset(url: string): boolean {
  const path = url.split("?")[0];
  return !path.startsWith("/v1/") && path !== "/v1" && path !== "/metrics";
}

export function registerWebAssets(app: FastifyInstance, dir = WEB_DIR, guestDir = GUEST_DIR): void {
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n in TYPES || extname(n) in TYPES);
  } catch {
    names = [];
  }
  const send = (file: string, type: string) => {
    const body = readFileSync(file);
    return { body, type };
  };
  const serve = (url: string, file: () => string, type: string) =>
    app.get(url, async (_req, reply) => {
      let r: { body: Buffer; type: string };
      try {
        r = send(file(), type);
      } catch {
        return reply.code(404).send({ error: `${url} is not built (run npm run build)` });
      }
      return reply
        .type(r.type)
        .header("cache-control", "no-cache")
        .header("content-security-policy", CSP)
        .header("x-content-type-options", "nosniff")
        .send(r.body);
    });
  serve("/", () => join(dir, "index.html"), TYPES[".html"]);
  serve("/play", () => join(dir, "play.html"), TYPES[".html"]);
  for (const n of names) {
    if (n === "index.html") continue;
    // Both pages name their files relative to themselves, and /play resolves those against / too.
    serve(`/${n}`, () => join(dir, n), TYPES[extname(n)]);
  }
  for (const g of GUEST_FILES) serve(`/images/${g}`, () => join(guestDir, g), TYPES[".gz"]);
}
