// Runs executeFp against every reference vector recorded from QEMU (tests/fixtures/fp, see
// scripts/gen-fp-fixtures.sh) and requires bit-exact results, exact fflags and identical illegal-instruction
// decisions.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { executeFp } from "./execute.js";
import type { FpState } from "./fp-state.js";

const FIXTURE_DIR = fileURLToPath(new URL("../../../../tests/fixtures/fp/", import.meta.url));

type Row = [string, number, string, string, string, string, string, number, number];

function set64(a: Int32Array, i: number, hex: string): void {
  const v = BigInt(`0x${hex}`);
  a[2 * i] = Number(v & 0xffffffffn) | 0;
  a[2 * i + 1] = Number(v >> 32n) | 0;
}

function get64(a: Int32Array, i: number): string {
  return ((BigInt(a[2 * i + 1] >>> 0) << 32n) | BigInt(a[2 * i] >>> 0)).toString(16);
}

/** Runs one vector the way runner.S does: f1=x11=a, f2=b, f3=c, x10=f10=0, fflags=0. */
export function runVector(row: Row): { ok: boolean; x10: string; f10: string; fflags: number } {
  const [insn, frm, a, b, c] = row;
  const s: FpState = { x: new Int32Array(64), f: new Int32Array(64), fflags: 0, frm };
  set64(s.x, 11, a);
  set64(s.f, 1, a);
  set64(s.f, 2, b);
  set64(s.f, 3, c);
  const ok = executeFp(s, Number.parseInt(insn, 16) | 0);
  return { ok, x10: get64(s.x, 10), f10: get64(s.f, 10), fflags: s.fflags };
}

const files = readdirSync(FIXTURE_DIR)
  .filter((f) => f.endsWith(".json"))
  .sort();

test("fixture directory holds several thousand vectors", () => {
  let n = 0;
  for (const f of files)
    n += (JSON.parse(readFileSync(FIXTURE_DIR + f, "utf8")) as { vectors: Row[] }).vectors.length;
  assert.ok(files.length >= 50, `only ${files.length} fixture files`);
  assert.ok(n >= 5000, `only ${n} vectors`);
});

for (const file of files) {
  test(`QEMU reference vectors: ${file}`, () => {
    const { vectors } = JSON.parse(readFileSync(FIXTURE_DIR + file, "utf8")) as { vectors: Row[] };
    const failures: string[] = [];
    for (const row of vectors) {
      const [insn, frm, a, b, c, x10, f10, flags, trap] = row;
      const got = runVector(row);
      const want = trap ? "illegal" : `x10=${x10} f10=${f10} fflags=${flags}`;
      const have = got.ok ? `x10=${got.x10} f10=${got.f10} fflags=${got.fflags}` : "illegal";
      // An illegal instruction must leave the state untouched.
      const untouched = got.ok || (got.x10 === "0" && got.f10 === "0" && got.fflags === 0);
      if (want !== have || !untouched) {
        failures.push(`insn=${insn} frm=${frm} a=${a} b=${b} c=${c}: want ${want}, got ${have}`);
      }
    }
    assert.deepEqual(failures.slice(0, 20), [], `${failures.length}/${vectors.length} vectors differ`);
  });
}
