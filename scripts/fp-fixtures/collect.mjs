// Joins the vector table with QEMU's output lines and writes tests/fixtures/fp/<op>.json.
// Usage: node collect.mjs <vectors-meta.json> <qemu-output.txt> <fixture-dir>
// Each fixture row: [insn, frm, a, b, c, x10, f10, fflags, trap] (hex strings; frm/fflags/trap numbers).
// trap is 0, or the mcause (2) when the reference machine raised illegal-instruction.
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const [metaPath, outPath, dir] = process.argv.slice(2);
const meta = JSON.parse(readFileSync(metaPath, "utf8"));
const lines = readFileSync(outPath, "utf8")
  .split("\n")
  .map((l) => l.trim())
  .filter((l) => /^[0-9a-f]{16} [0-9a-f]{16} [0-9a-f]{2} [0-9a-f]$/.test(l));
if (lines.length !== meta.length) {
  console.error(`expected ${meta.length} result lines, got ${lines.length}`);
  process.exit(1);
}
const byOp = new Map();
/** Hex without leading zeros keeps the committed files small. */
const short = (v) => (typeof v === "number" ? v : BigInt(`0x${v}`).toString(16));
meta.forEach(([op, insn, frm, a, b, c], i) => {
  const [x10, f10, flags, trap] = lines[i].split(" ");
  if (!byOp.has(op)) byOp.set(op, []);
  byOp
    .get(op)
    .push(
      [insn, frm, a, b, c, x10, f10]
        .map(short)
        .concat([Number.parseInt(flags, 16), Number.parseInt(trap, 16)]),
    );
});
mkdirSync(dir, { recursive: true });
for (const f of readdirSync(dir)) if (f.endsWith(".json")) rmSync(join(dir, f));
for (const [op, rows] of byOp) {
  const body = rows.map((r) => JSON.stringify(r)).join(",\n");
  writeFileSync(join(dir, `${op}.json`), `{"op":${JSON.stringify(op)},"vectors":[\n${body}\n]}\n`);
}
console.log(`${meta.length} vectors in ${byOp.size} files`);
