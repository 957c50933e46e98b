/** Tests for the QEMU-style option parsers. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseCpus, parseDiskSpec, parseMemSize } from "./vm-config.js";

test("--mem accepts K/M/G suffixes and bare MiB", () => {
  assert.equal(parseMemSize("128M"), 128 * 1024 * 1024);
  assert.equal(parseMemSize("1G"), 1024 ** 3);
  assert.equal(parseMemSize("256"), 256 * 1024 * 1024);
  assert.equal(parseMemSize("65536K"), 64 * 1024 * 1024);
  assert.throws(() => parseMemSize("abc"), /cannot parse/);
  assert.throws(() => parseMemSize("1M"), /too small/);
});

test("--cpus is 1..8", () => {
  assert.equal(parseCpus("2"), 2);
  for (const bad of ["0", "9", "1.5", "x"]) assert.throws(() => parseCpus(bad), /expected 1\.\.8/);
});

test("--disk PATH[,format=...][,readonly=on]", () => {
  assert.deepEqual(parseDiskSpec("a.img"), { path: "a.img", readOnly: false });
  assert.deepEqual(parseDiskSpec("b.qcow2,format=qcow2,readonly=on"), {
    path: "b.qcow2",
    format: "qcow2",
    readOnly: true,
  });
  assert.throws(() => parseDiskSpec("c,format=vdi"), /unknown format/);
  assert.throws(() => parseDiskSpec("c,cache=none"), /unknown option "cache"/);
  assert.throws(() => parseDiskSpec(",format=raw"), /missing path/);
});
