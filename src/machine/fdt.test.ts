/** Tests for the FDT writer: round trip through our reader, and through dtc when installed. */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { FdtWriter } from "./fdt.js";
import { findNode, parseFdt, propCells, propStrings } from "./fdt-reader.js";

function sample(): Uint8Array {
  const w = new FdtWriter(0);
  w.addReservation(0x80000000, 0x200000);
  w.beginNode("");
  w.propU32("#address-cells", 2);
  w.prop("compatible", ["a,b", "c"]);
  w.beginNode("node@1000");
  w.prop("name-ish", "hello");
  w.propEmpty("flag");
  w.propU64("big", 0x123456789abcn);
  w.prop("bytes", new Uint8Array([1, 2, 3]));
  w.endNode();
  w.beginNode("other");
  w.propU32("#address-cells", 1); // reused string offset
  w.endNode();
  w.endNode();
  return w.finish();
}

test("header: magic, version 17, last compatible 16, aligned blocks", () => {
  const blob = sample();
  const dv = new DataView(blob.buffer);
  assert.equal(dv.getUint32(0), 0xd00dfeed);
  assert.equal(dv.getUint32(4), blob.length);
  assert.equal(dv.getUint32(20), 17);
  assert.equal(dv.getUint32(24), 16);
  assert.equal(dv.getUint32(16) % 8, 0, "reservation map 8-aligned");
  assert.equal(dv.getUint32(8) % 4, 0, "structure block 4-aligned");
});

test("round trip through the reader", () => {
  const fdt = parseFdt(sample());
  assert.deepEqual(fdt.reservations, [{ address: 0x80000000n, size: 0x200000n }]);
  assert.deepEqual(propStrings(fdt.root, "compatible"), ["a,b", "c"]);
  const n = findNode(fdt.root, "/node@1000");
  assert.ok(n);
  assert.deepEqual(propStrings(n, "name-ish"), ["hello"]);
  assert.equal(n.props.get("flag")?.length, 0);
  assert.deepEqual(propCells(n, "big"), [0x1234, 0x56789abc]);
  assert.deepEqual([...(n.props.get("bytes") ?? [])], [1, 2, 3]);
  assert.deepEqual(propCells(findNode(fdt.root, "/other")!, "#address-cells"), [1]);
});

test("property names are stored once in the strings block", () => {
  const blob = sample();
  const dv = new DataView(blob.buffer);
  const off = dv.getUint32(12);
  const size = dv.getUint32(32);
  const text = new TextDecoder().decode(blob.subarray(off, off + size));
  assert.equal(text.split("#address-cells").length - 1, 1);
});

test("misuse is rejected", () => {
  const w = new FdtWriter();
  assert.throws(() => w.beginNode("x"), /root/);
  w.beginNode("");
  assert.throws(() => w.finish(), /open/);
  assert.throws(() => w.prop("c", [0x1_0000_0000]), /u32/);
  w.endNode();
  assert.throws(() => w.endNode(), /matching/);
  w.finish();
  assert.throws(() => w.beginNode(""), /finished/);
});

test("dtc decodes the blob", (t) => {
  const probe = spawnSync("dtc", ["--version"]);
  if (probe.error || probe.status !== 0) {
    t.skip("dtc not installed (apt-get install device-tree-compiler)");
    return;
  }
  const r = spawnSync("dtc", ["-I", "dtb", "-O", "dts", "-"], { input: sample() });
  assert.equal(r.status, 0, r.stderr.toString());
  const dts = r.stdout.toString();
  assert.match(dts, /\/memreserve\/\s+0x0*80000000 0x0*200000;/);
  assert.match(dts, /compatible = "a,b(", "|\\0)c";/);
  assert.match(dts, /node@1000 \{/);
  assert.match(dts, /name-ish = "hello";/);
  assert.match(dts, /flag;/);
  assert.match(dts, /big = <0x1234 0x56789abc>;/);
  assert.match(dts, /bytes = \[01 02 03\];/);
});
