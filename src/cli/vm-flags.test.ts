/** Tests for the VM flags: QEMU-style option syntax, and spec errors rendered with flag names. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { FieldError, UserError } from "../base/errors.js";
import { validateVmSpec } from "../vmm/vm-spec.js";
import {
  flagOfField,
  parseConsoleDevice,
  parseCpus,
  parseDiskSpec,
  parseMemSize,
  toFlagError,
} from "./vm-flags.js";

test("--mem accepts K/M/G suffixes and bare MiB", () => {
  assert.equal(parseMemSize("128M"), 128 * 1024 * 1024);
  assert.equal(parseMemSize("1G"), 1024 ** 3);
  assert.equal(parseMemSize("256"), 256 * 1024 * 1024);
  assert.equal(parseMemSize("65536K"), 64 * 1024 * 1024);
  assert.throws(() => parseMemSize("abc"), /--mem: cannot parse/);
  assert.throws(() => parseMemSize("1M"), /--mem: 1M is too small \(minimum 16M\)/);
  assert.throws(() => parseMemSize("5G"), /--mem: 5G is too large \(maximum 4G\)/);
});

test("--cpus takes 1..8", () => {
  assert.equal(parseCpus("2"), 2);
  for (const bad of ["0", "9", "1.5", "x"]) assert.throws(() => parseCpus(bad), /--cpus: expected 1\.\.8/);
});

test("--disk parses QEMU-style options", () => {
  assert.deepEqual(parseDiskSpec("a.img"), { path: "a.img", readOnly: false });
  assert.deepEqual(parseDiskSpec("b.qcow2,format=qcow2,readonly=on"), {
    path: "b.qcow2",
    format: "qcow2",
    readOnly: true,
  });
  assert.throws(() => parseDiskSpec("c,format=vdi"), /--disk: unknown format/);
  assert.throws(() => parseDiskSpec("c,cache=none"), /unknown option "cache"/);
  assert.throws(() => parseDiskSpec(",format=raw"), /missing path/);
});

test("--console uart|virtio", () => {
  assert.equal(parseConsoleDevice("virtio"), "virtio");
  assert.throws(() => parseConsoleDevice("vga"), /--console: expected uart or virtio, got "vga"/);
});

test("spec and board errors come back naming the flag; the field stays available", () => {
  assert.equal(flagOfField("disks[2].format"), "--disk");
  assert.equal(flagOfField("memBytes"), "--mem");
  assert.equal(flagOfField("harts"), "--cpus");
  assert.equal(flagOfField("vmIndex"), undefined);
  let err: unknown;
  try {
    validateVmSpec({ kernel: "k", bios: "none", console: "virtio" });
  } catch (e) {
    err = toFlagError(e);
  }
  assert.ok(err instanceof UserError && !(err instanceof FieldError));
  assert.match(err.message, /^--console: virtio needs a Linux guest/);
  const other = new Error("x");
  assert.equal(toFlagError(other), other);
  // A field no flag sets keeps its own wording.
  const idx = new FieldError("vmIndex", "must be 0..65535", 1e6);
  assert.equal(toFlagError(idx), idx);
});
