/**
 * Style test over the repository itself: every import in src/ respects the layer table in
 * docs/architecture.md (the guide's table), core layers stay free of node:* outside node/ folders, and imports have no cycles.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { builtinModules } from "node:module";
import { dirname, join, relative, resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const src = join(root, "src");

/**
 * Which layers each layer may import (itself is always allowed), read from the "Who may import whom" table
 * of docs/architecture.md, so the rule the test enforces and the rule the document states are one text.
 */
function readAllowed(): Record<string, string[]> {
  const doc = readFileSync(join(root, "docs/architecture.md"), "utf8");
  const section = doc.split(/^## /m).find((s) => s.startsWith("Who may import whom"));
  assert.ok(section, "docs/architecture.md has a 'Who may import whom' section");
  const allowed: Record<string, string[]> = {};
  for (const m of section.matchAll(/^\| `([a-z]+)\/` \| ([^|]+) \|$/gm)) {
    const list = m[2].trim();
    allowed[m[1]] = list === "nothing" ? [] : list.split(/,\s*/);
  }
  return allowed;
}
const ALLOWED = readAllowed();

const CORE = new Set([
  "base",
  "memory",
  "isa",
  "cpu",
  "jit",
  "io",
  "devices",
  "storage",
  "net",
  "machine",
  "vmm",
]);

function walk(dir: string, out: string[]): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith(".ts") && !name.endsWith(".d.ts")) out.push(p);
  }
  return out;
}

interface Imp {
  spec: string;
  typeOnly: boolean;
}

function importsOf(file: string): Imp[] {
  const text = readFileSync(file, "utf8");
  const out: Imp[] = [];
  const re = /^\s*(import|export)\s+(type\s+)?[^'"]*?from\s+["']([^"']+)["']/gm;
  for (let m = re.exec(text); m !== null; m = re.exec(text))
    out.push({ spec: m[3], typeOnly: m[2] !== undefined });
  const bare = /^\s*import\s+["']([^"']+)["']/gm;
  for (let m = bare.exec(text); m !== null; m = bare.exec(text)) out.push({ spec: m[1], typeOnly: false });
  const dyn = /import\(\s*["']([^"']+)["']\s*\)/g;
  for (let m = dyn.exec(text); m !== null; m = dyn.exec(text)) out.push({ spec: m[1], typeOnly: false });
  return out;
}

function layerOf(file: string): string {
  const rel = relative(src, file).split(/[\\/]/);
  return rel[0];
}

const files = walk(src, []).filter((f) => !f.endsWith(".test.ts"));

test("the layer table says what the architecture guide says", () => {
  // The guide's rules for the front ends and the lowest layers, restated here so that loosening the
  // document's table (to let a violation pass) fails this test instead.
  assert.deepEqual(ALLOWED.base, []);
  assert.deepEqual(ALLOWED.cpu, ["base", "memory", "isa"]);
  assert.deepEqual(ALLOWED.jit, ["base", "memory", "isa", "cpu"]);
  assert.deepEqual(ALLOWED.devices, ["base", "memory", "io"]);
  assert.deepEqual(ALLOWED.api, ["base"]);
  assert.deepEqual(ALLOWED.daemon, ["base", "api", "vmm", "net", "storage"]);
  assert.deepEqual(ALLOWED.cli, ["base", "api", "vmm", "storage"]);
  assert.deepEqual(ALLOWED.web, ["base", "api"]);
  assert.deepEqual(ALLOWED.bin, ["cli", "daemon"]);
  for (const [layer, deps] of Object.entries(ALLOWED)) {
    for (const d of deps)
      assert.ok(d in ALLOWED, `${layer} may import ${d}, which the table does not define`);
    assert.ok(!deps.includes(layer), `${layer} lists itself`);
  }
});

test("every layer imports only the layers below it", () => {
  const violations: string[] = [];
  for (const file of files) {
    const layer = layerOf(file);
    const allowed = ALLOWED[layer];
    assert.ok(allowed, `unknown layer folder src/${layer}`);
    for (const { spec } of importsOf(file)) {
      if (!spec.startsWith(".")) continue;
      const target = resolve(dirname(file), spec);
      const tl = layerOf(target);
      if (tl !== layer && !allowed.includes(tl))
        violations.push(`${relative(root, file)} imports ${tl} (${spec})`);
    }
  }
  assert.deepEqual(violations, []);
});

test("core layers use node:* only inside node/ folders", () => {
  const violations: string[] = [];
  for (const file of files) {
    if (!CORE.has(layerOf(file))) continue;
    if (relative(src, file).split(/[\\/]/).includes("node")) continue;
    for (const { spec, typeOnly } of importsOf(file)) {
      if (!typeOnly && (spec.startsWith("node:") || ["fs", "path", "os", "crypto", "zlib"].includes(spec))) {
        violations.push(`${relative(root, file)} imports ${spec}`);
      }
    }
  }
  assert.deepEqual(violations, []);
});

// Type-only imports count too: a cycle through types still ties the files into one unit that cannot be
// understood, tested or moved apart, and it is how runtime cycles start (the guide: "No cycles").
test("imports between source files, type-only ones included, have no cycles", () => {
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const deps: string[] = [];
    for (const { spec } of importsOf(file)) {
      if (!spec.startsWith(".")) continue;
      deps.push(resolve(dirname(file), spec).replace(/\.js$/, ".ts"));
    }
    graph.set(file, deps);
  }
  const state = new Map<string, number>();
  const cycles: string[] = [];
  const stack: string[] = [];
  const visit = (n: string): void => {
    state.set(n, 1);
    stack.push(n);
    for (const m of graph.get(n) ?? []) {
      if (!graph.has(m)) continue;
      const s = state.get(m) ?? 0;
      if (s === 1)
        cycles.push(
          stack
            .slice(stack.indexOf(m))
            .map((p) => relative(src, p))
            .join(" -> "),
        );
      else if (s === 0) visit(m);
    }
    stack.pop();
    state.set(n, 2);
  };
  for (const n of graph.keys()) if ((state.get(n) ?? 0) === 0) visit(n);
  assert.deepEqual(cycles, []);
});

/** The browser bundles' entry points (scripts/build-web.mjs). */
const BROWSER_ENTRIES = ["web/main.ts", "play/page.ts", "play/worker.ts"];

// The web console and the in-tab VM run in a browser: nothing they reach, however indirectly, may be
// host code (a node/ folder) or import a Node built-in, type-only imports included (a type from node/
// is a sign the design leans on Node).
test("no Node API is reachable from the browser bundles", () => {
  const builtins = new Set(builtinModules);
  const seen = new Set<string>();
  const violations: string[] = [];
  const visit = (file: string, from: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    const rel = relative(src, file);
    if (rel.split(/[\\/]/).includes("node")) violations.push(`${rel} (host code, reached from ${from})`);
    if (!existsSync(file)) {
      violations.push(`${rel} is missing (imported by ${from})`);
      return;
    }
    for (const { spec } of importsOf(file)) {
      if (spec.startsWith(".")) visit(resolve(dirname(file), spec).replace(/\.js$/, ".ts"), rel);
      else if (spec.startsWith("node:") || builtins.has(spec.split("/")[0]))
        violations.push(`${rel} imports ${spec}`);
    }
  };
  for (const e of BROWSER_ENTRIES) visit(join(src, e), "the bundle");
  assert.ok(seen.size > BROWSER_ENTRIES.length, "the walk followed imports");
  assert.deepEqual(violations, []);

  // The bundle as built (when it is): esbuild's metafile lists every input it took in.
  const meta = join(root, "dist/web/meta.json");
  if (!existsSync(meta)) return;
  const inputs = Object.keys((JSON.parse(readFileSync(meta, "utf8")) as { inputs: object }).inputs);
  const bad = inputs.filter(
    (i) => i.startsWith("node:") || /(^|\/)src\/([^/]+\/)*node\//.test(i) || builtins.has(i),
  );
  assert.deepEqual(bad, []);
  assert.ok(inputs.some((i) => i.includes("src/web/")));
});
