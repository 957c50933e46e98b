/**
 * Style test over the repository itself: every import in src/ respects the layer table in
 * docs/architecture.md, core layers stay free of node:* outside node/ folders, and imports have no cycles.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const src = join(root, "src");

/** Which layers each layer may import (itself is always allowed). */
const ALLOWED: Record<string, string[]> = {
  base: [],
  memory: ["base"],
  isa: ["base"],
  cpu: ["base", "memory", "isa"],
  jit: ["base", "memory", "isa", "cpu"],
  io: ["base"],
  devices: ["base", "memory", "io"],
  storage: ["base", "io"],
  net: ["base", "io"],
  kvm: ["base", "memory", "io", "devices"],
  machine: ["base", "memory", "isa", "cpu", "jit", "io", "devices", "storage", "net", "kvm"],
  vmm: ["base", "memory", "isa", "cpu", "jit", "io", "devices", "storage", "net", "kvm", "machine"],
  api: ["base"],
  daemon: ["base", "api", "vmm", "machine", "io", "storage", "net", "devices", "memory", "cpu", "isa"],
  cli: ["base", "api", "vmm", "machine", "io", "storage", "net", "devices", "memory", "cpu", "isa"],
  web: ["base", "api"],
  bin: ["cli"],
};
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
