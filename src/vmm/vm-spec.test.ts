/** Tests for the VM specification: validation of untrusted input, defaults, MACs and virtio slots. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { FieldError } from "../base/errors.js";
import { defaultMac, formatMac, macFromName, parseMac } from "./mac.js";
import { virtioSlots } from "./virtio-slots.js";
import {
  DEFAULT_APPEND,
  DEFAULT_MEM_BYTES,
  effectiveAppend,
  nicMacs,
  VIRTIO_CONSOLE_APPEND,
  type VmSpecInput,
  validateVmSpec,
} from "./vm-spec.js";

const base: VmSpecInput = { kernel: "Image" };

/** Assert that `input` is refused with a FieldError on `field` whose detail matches `re`. */
function refused(input: unknown, field: string, re: RegExp): void {
  assert.throws(
    () => validateVmSpec(input),
    (e: unknown) => e instanceof FieldError && e.field === field && re.test(e.detail),
    JSON.stringify(input),
  );
}

test("defaults fill every field; the result is plain JSON that validates to itself", () => {
  const s = validateVmSpec(base);
  assert.deepEqual(s, {
    kernel: "Image",
    bios: "builtin",
    memBytes: DEFAULT_MEM_BYTES,
    cpus: 1,
    disks: [],
    nics: [],
    console: "uart",
    rng: true,
    balloon: true,
    freePageReporting: true,
    noReboot: false,
    vmIndex: 0,
    jit: "on",
    jitCacheSize: 8192,
  });
  assert.deepEqual(validateVmSpec(JSON.parse(JSON.stringify(s))), s);
  assert.equal(effectiveAppend(s), DEFAULT_APPEND);
  assert.equal(effectiveAppend({ ...s, console: "virtio" }), VIRTIO_CONSOLE_APPEND);
  assert.equal(effectiveAppend({ ...s, append: "quiet" }), "quiet");
});

test("every field's type and range is checked, and errors name the field and carry the value", () => {
  refused(null, "", /must be an object/);
  refused([], "", /must be an object/);
  refused({ ...base, cpu: 2 }, "cpu", /unknown field/);
  for (const cpus of [0, 9, 1.5, -1, "2", Number.NaN, 2 ** 60]) refused({ ...base, cpus }, "cpus", /./);
  refused({ ...base, memBytes: 1 << 20 }, "memBytes", /must be 16777216\.\.4294967296, got 1048576/);
  refused({ ...base, memBytes: 2 ** 33 }, "memBytes", /must be/);
  refused({ ...base, memBytes: (64 << 20) + 1 }, "memBytes", /multiple of 4096/);
  refused({ ...base, kernel: "" }, "kernel", /empty/);
  refused({ ...base, kernel: 5 }, "kernel", /string/);
  refused({ ...base, kernel: "a\0b" }, "kernel", /NUL/);
  refused({ ...base, kernel: "x".repeat(5000) }, "kernel", /longer/);
  refused({ ...base, append: 1 }, "append", /string/);
  refused({ ...base, append: "x".repeat(5000) }, "append", /longer/);
  refused({ ...base, disks: {} }, "disks", /array/);
  refused({ ...base, disks: [{ path: "a", format: "vmdk" }] }, "disks[0].format", /raw, qcow2/);
  refused({ ...base, disks: [{ path: "a" }, { path: "" }] }, "disks[1].path", /empty/);
  refused({ ...base, disks: [{ path: "a", readOnly: "yes" }] }, "disks[0].readOnly", /true or false/);
  refused({ ...base, disks: [{ path: "a", cache: "none" }] }, "disks[0].cache", /unknown field/);
  refused({ ...base, disks: Array(9).fill({ path: "a" }) }, "disks", /at most 8/);
  refused({ ...base, nics: [{ mac: "01:00:5e:00:00:01" }] }, "nics[0].mac", /multicast/);
  refused({ ...base, nics: [{ mac: "zz" }] }, "nics[0].mac", /cannot parse/);
  refused({ ...base, console: "vga" }, "console", /uart, virtio/);
  refused({ ...base, rng: 1 }, "rng", /true or false/);
  refused({ ...base, vmIndex: 0x10000 }, "vmIndex", /0\.\.65535/);
  refused({ bios: "builtin" }, "kernel", /required/);
  refused({ bios: "none" }, "kernel", /required/);
  refused({ ...base, bios: "none", console: "virtio" }, "console", /HTIF/);
  // Firmware may boot without a kernel (it may load one itself).
  assert.equal(validateVmSpec({ bios: "fw.bin" }).kernel, undefined);
  // The FieldError carries the value, for API error bodies.
  try {
    validateVmSpec({ ...base, cpus: 12 });
    assert.fail("accepted 12 harts");
  } catch (e) {
    assert.ok(e instanceof FieldError);
    assert.equal(e.value, 12);
    assert.equal(e.message, "cpus: must be 1..8, got 12");
  }
});

test("the spec is a copy: later changes to the input do not reach it", () => {
  const input = { ...base, disks: [{ path: "a.img", readOnly: false }] };
  const s = validateVmSpec(input);
  input.disks[0].path = "b.img";
  assert.equal(s.disks[0].path, "a.img");
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
  assert.deepEqual(nicMacs(validateVmSpec(base)), []);
  const two = validateVmSpec({ ...base, vmIndex: 3, nics: [{}, { mac: "02:00:00:00:00:09" }] });
  assert.deepEqual(nicMacs(two).map(formatMac), ["52:54:00:12:37:56", "02:00:00:00:00:09"]);
  refused(
    { ...base, nics: [{}, { mac: "52:54:00:12:34:56" }] },
    "nics[1].mac",
    /52:54:00:12:34:56 is already used/,
  );
});

test("virtio slots: disks, NICs, console, rng, balloon in that order; too many is one clear error", () => {
  const disk = { path: "d.img", readOnly: false };
  assert.deepEqual(virtioSlots(validateVmSpec(base)), ["rng", "balloon"]);
  const all = { ...base, disks: [disk, disk], nics: [{}], console: "virtio" as const };
  assert.deepEqual(virtioSlots(validateVmSpec(all)), ["disk", "disk", "nic", "console", "rng", "balloon"]);
  assert.deepEqual(virtioSlots(validateVmSpec({ ...all, rng: false, balloon: false, nics: [] })), [
    "disk",
    "disk",
    "console",
  ]);
  validateVmSpec({ ...all, disks: Array(4).fill(disk) });
  validateVmSpec({ ...all, balloon: false, disks: Array(5).fill(disk) });
  assert.throws(
    () => validateVmSpec({ ...all, disks: Array(5).fill(disk) }),
    /^FieldError: too many virtio devices: 5 disk\(s\) \+ 1 NIC\(s\) \+ console \+ rng \+ balloon = 9; the board has 8 slots$/,
  );
  assert.throws(
    () => validateVmSpec({ ...base, rng: false, balloon: false, disks: Array(9).fill(disk) }),
    /disks: at most 8 entries/,
  );
});

test("jit takes on, off or always and a bounded cache size", () => {
  assert.equal(validateVmSpec({ ...base, jit: "always" }).jit, "always");
  refused({ ...base, jit: "fast" }, "jit", /must be one of on, off, always/);
  refused({ ...base, jitCacheSize: 0 }, "jitCacheSize", /must be 1\.\./);
  refused({ ...base, jitCacheSize: 1.5 }, "jitCacheSize", /must be an integer/);
});

test("NIC backends: absent is a hub port; each kind is checked field by field", () => {
  assert.deepEqual(validateVmSpec({ ...base, nics: [{}] }).nics, [{ backend: { kind: "hub" } }]);
  const user = validateVmSpec({
    ...base,
    nics: [{ backend: { kind: "user", hostfwd: [{ proto: "tcp", hostPort: 2222, guestPort: 22 }] } }],
  });
  assert.deepEqual(user.nics[0].backend, {
    kind: "user",
    hostfwd: [{ proto: "tcp", hostPort: 2222, guestPort: 22 }],
  });
  refused({ ...base, nics: [{ backend: { kind: "wifi" } }] }, "nics[0].backend.kind", /must be one of/);
  refused(
    { ...base, nics: [{ backend: { kind: "tap", ifname: "t", extra: 1 } }] },
    "nics[0].backend.extra",
    /unknown/,
  );
  refused(
    {
      ...base,
      nics: [{ backend: { kind: "stream", server: false, addr: { type: "inet", host: "h", port: 0 } } }],
    },
    "nics[0].backend.addr.port",
    /must be 1..65535/,
  );
  refused(
    { ...base, nics: [{ backend: { kind: "stream", addr: { type: "inet", host: "a b", port: 1 } } }] },
    "nics[0].backend.addr.host",
    /host name/,
  );
  refused({ ...base, nics: [{ backend: { kind: "dgram" } }] }, "nics[0].backend", /local or a remote/);
  refused({ ...base, nics: [{ pcap: "" }] }, "nics[0].pcap", /empty/);
  refused({ ...base, name: "a/b" }, "name", /letters/);
});

test("MACs from the VM's name: stable, distinct per NIC, and the vmIndex scheme without a name", () => {
  const a = nicMacs(validateVmSpec({ ...base, name: "web", nics: [{}, {}] })).map(formatMac);
  const again = nicMacs(validateVmSpec({ ...base, name: "web", vmIndex: 7, nics: [{}, {}] })).map(formatMac);
  const other = nicMacs(validateVmSpec({ ...base, name: "db", nics: [{}] })).map(formatMac);
  assert.deepEqual(a, again);
  assert.notEqual(a[0], a[1]);
  assert.notEqual(a[0], other[0]);
  assert.match(a[0], /^52:54:00:/);
  // Fixed for good (FNV-1a of the name): any change would renumber every guest.
  assert.deepEqual(a, ["52:54:00:d9:bc:91", "52:54:00:d9:bc:90"]);
  assert.equal(a[0], formatMac(macFromName("web", 0)));
  assert.equal(formatMac(nicMacs(validateVmSpec({ ...base, nics: [{}] }))[0]), "52:54:00:12:34:56");
});
