/** Tests for the QEMU-style option parsers. */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { CharBackend } from "../io/char-backend.js";
import type { NetBackend } from "../io/net-backend.js";
import {
  checkVirtioSlots,
  defaultMac,
  formatMac,
  nicMacs,
  parseCpus,
  parseDiskSpec,
  parseMac,
  parseMemSize,
  type VmConfig,
  virtioSlots,
} from "./vm-config.js";

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

test("MAC addresses: parse, format, reject multicast", () => {
  assert.deepEqual([...parseMac("52:54:00:AB:cd:02")], [0x52, 0x54, 0, 0xab, 0xcd, 2]);
  assert.deepEqual([...parseMac("02-00-00-00-00-01")], [2, 0, 0, 0, 0, 1]);
  assert.equal(formatMac(parseMac("52:54:00:ab:cd:02")), "52:54:00:ab:cd:02");
  for (const bad of ["52:54:00:ab:cd", "52:54:00:ab:cd:0g", "52:54-00:ab:cd:02", ""])
    assert.throws(() => parseMac(bad), /cannot parse/);
  assert.throws(() => parseMac("01:00:5e:00:00:01"), /multicast/);
});

test("default MACs: QEMU's 52:54:00:12:34:56 for VM 0 NIC 0, distinct per VM and NIC", () => {
  assert.equal(formatMac(defaultMac(0, 0)), "52:54:00:12:34:56");
  assert.equal(formatMac(defaultMac(0, 1)), "52:54:00:12:34:57");
  assert.equal(formatMac(defaultMac(1, 0)), "52:54:00:12:35:56");
  const seen = new Set<string>();
  for (let vm = 0; vm < 0x10000; vm += 0x101)
    for (let n = 0; n < 8; n++) seen.add(formatMac(defaultMac(vm, n)));
  assert.equal(seen.size, 256 * 8);
  for (const mac of seen) assert.equal(Number.parseInt(mac.slice(0, 2), 16) & 3, 2, "local, unicast");
  assert.throws(() => defaultMac(0x10000, 0), /VM index/);
  assert.throws(() => defaultMac(-1, 0), /VM index/);
});

test("nicMacs: explicit or derived per NIC; duplicates within a VM are refused", () => {
  const backend: NetBackend = { send() {}, onReceive() {}, close() {} };
  const base: VmConfig = { bios: "builtin", memBytes: 1 << 27, cpus: 1, disks: [], rng: false };
  assert.deepEqual(nicMacs(base), []);
  const two = { ...base, vmIndex: 3, nics: [{ backend }, { backend, mac: "02:00:00:00:00:09" }] };
  assert.deepEqual(nicMacs(two).map(formatMac), ["52:54:00:12:37:56", "02:00:00:00:00:09"]);
  const dup = { ...base, nics: [{ backend }, { backend, mac: "52:54:00:12:34:56" }] };
  assert.throws(() => nicMacs(dup), /share the MAC address 52:54:00:12:34:56/);
});

test("virtio slots: disks, NICs, console, rng in that order; too many is one clear error", () => {
  const net: NetBackend = { send() {}, onReceive() {}, close() {} };
  const char: CharBackend = { write() {}, onInput() {} };
  const disk = { path: "d.img", readOnly: false };
  const base: VmConfig = { bios: "builtin", memBytes: 1 << 27, cpus: 1, disks: [], rng: true };
  assert.deepEqual(virtioSlots(base), ["rng"]);
  const all = { ...base, disks: [disk, disk], nics: [{ backend: net }], virtioConsole: char };
  assert.deepEqual(virtioSlots(all), ["disk", "disk", "nic", "console", "rng"]);
  assert.deepEqual(virtioSlots({ ...all, rng: false, nics: [] }), ["disk", "disk", "console"]);
  checkVirtioSlots({ ...all, disks: Array(5).fill(disk) }, 8);
  assert.throws(
    () => checkVirtioSlots({ ...all, disks: Array(6).fill(disk) }, 8),
    /^UserError: too many virtio devices: 6 disk\(s\) \+ 1 NIC\(s\) \+ console \+ rng = 9; the board has 8 slots$/,
  );
  assert.throws(
    () => checkVirtioSlots({ ...base, rng: false, disks: Array(9).fill(disk) }, 8),
    /too many virtio devices: 9 disk\(s\) \+ 0 NIC\(s\) = 9; the board has 8 slots/,
  );
});
