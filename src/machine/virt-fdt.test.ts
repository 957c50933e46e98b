/** Tests for the riscv-virt device tree: structure, phandle wiring and chosen, checked by our reader and dtc. */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { findNode, parseFdt, propCells, propStrings } from "./fdt-reader.js";
import { buildVirtFdt, DEFAULT_RISCV_ISA } from "./virt-fdt.js";

const base = {
  harts: 2,
  ramBase: 0x80000000,
  ramSize: 0x1_4000_0000, // 5 GiB: exercises the high size cell
  bootargs: "console=ttyS0",
  initrd: { start: 0x88000000, end: 0x88100000 },
  rngSeed: new Uint8Array(32).fill(7),
  virtioSlots: [0, 3],
};

test("cpus: timebase, isa, mmu, per-hart interrupt controllers", () => {
  const { root } = parseFdt(buildVirtFdt(base));
  const cpus = findNode(root, "/cpus")!;
  assert.deepEqual(propCells(cpus, "timebase-frequency"), [10_000_000]);
  for (const i of [0, 1]) {
    const cpu = findNode(root, `/cpus/cpu@${i}`)!;
    assert.deepEqual(propCells(cpu, "reg"), [i]);
    assert.deepEqual(propStrings(cpu, "riscv,isa"), [DEFAULT_RISCV_ISA]);
    assert.deepEqual(propStrings(cpu, "mmu-type"), ["riscv,sv48"]);
    const intc = findNode(cpu, "interrupt-controller")!;
    assert.deepEqual(propStrings(intc, "compatible"), ["riscv,cpu-intc"]);
  }
  assert.equal(findNode(root, "/cpus/cpu@2"), undefined);
  const custom = parseFdt(buildVirtFdt({ ...base, harts: 1, isa: "rv64imac" }));
  assert.deepEqual(propStrings(findNode(custom.root, "/cpus/cpu@0")!, "riscv,isa"), ["rv64imac"]);
});

test("memory and chosen", () => {
  const { root } = parseFdt(buildVirtFdt(base));
  assert.deepEqual(propCells(findNode(root, "/memory@80000000")!, "reg"), [0, 0x80000000, 1, 0x40000000]);
  const chosen = findNode(root, "/chosen")!;
  assert.deepEqual(propStrings(chosen, "bootargs"), ["console=ttyS0"]);
  assert.deepEqual(propStrings(chosen, "stdout-path"), ["/soc/serial@10000000"]);
  assert.deepEqual(propCells(chosen, "linux,initrd-start"), [0, 0x88000000]);
  assert.deepEqual(propCells(chosen, "linux,initrd-end"), [0, 0x88100000]);
  assert.equal(chosen.props.get("rng-seed")?.length, 32);
});

test("interrupt wiring: CLINT (3,7) and PLIC (11,9) per hart point at the cpu intc phandles", () => {
  const { root } = parseFdt(buildVirtFdt(base));
  const ph = [0, 1].map(
    (i) => propCells(findNode(root, `/cpus/cpu@${i}/interrupt-controller`)!, "phandle")![0],
  );
  const clint = findNode(root, "/soc/clint@2000000")!;
  assert.deepEqual(propStrings(clint, "compatible"), ["sifive,clint0", "riscv,clint0"]);
  assert.deepEqual(propCells(clint, "interrupts-extended"), [ph[0], 3, ph[0], 7, ph[1], 3, ph[1], 7]);
  const plic = findNode(root, "/soc/plic@c000000")!;
  assert.deepEqual(propCells(plic, "interrupts-extended"), [ph[0], 11, ph[0], 9, ph[1], 11, ph[1], 9]);
  assert.deepEqual(propCells(plic, "riscv,ndev"), [95]);
  const plicPh = propCells(plic, "phandle")![0];
  const uart = findNode(root, "/soc/serial@10000000")!;
  assert.deepEqual(propCells(uart, "interrupts"), [10]);
  assert.deepEqual(propCells(uart, "interrupt-parent"), [plicPh]);
  assert.deepEqual(propCells(uart, "clock-frequency"), [3686400]);
  assert.deepEqual(propCells(findNode(root, "/soc/virtio_mmio@10004000")!, "interrupts"), [4]);
  assert.ok(findNode(root, "/soc/virtio_mmio@10001000"));
  assert.equal(findNode(root, "/soc/virtio_mmio@10002000"), undefined, "unpopulated slots get no node");
  assert.deepEqual(propCells(findNode(root, "/soc/rtc@101000")!, "interrupts"), [11]);
});

test("poweroff and reboot reference the test device", () => {
  const { root } = parseFdt(buildVirtFdt(base));
  const testPh = propCells(findNode(root, "/soc/test@100000")!, "phandle")![0];
  const off = findNode(root, "/poweroff")!;
  assert.deepEqual(propCells(off, "regmap"), [testPh]);
  assert.deepEqual(propCells(off, "value"), [0x5555]);
  assert.deepEqual(propCells(findNode(root, "/reboot")!, "value"), [0x7777]);
});

test("dtc accepts the tree without warnings about structure", (t) => {
  const probe = spawnSync("dtc", ["--version"]);
  if (probe.error || probe.status !== 0) {
    t.skip("dtc not installed (apt-get install device-tree-compiler)");
    return;
  }
  const r = spawnSync("dtc", ["-I", "dtb", "-O", "dts", "-"], { input: buildVirtFdt(base) });
  assert.equal(r.status, 0, r.stderr.toString());
  const dts = r.stdout.toString();
  assert.match(dts, /riscv,isa = "rv64imafdc_zicsr_zifencei_zicntr_sstc";/);
  assert.match(dts, /compatible = "sifive,plic-1\.0\.0(", "|\\0)riscv,plic0";/);
  // dtc's checks (interrupts_extended, unit addresses, phandle references) must not complain.
  assert.equal(r.stderr.toString().trim(), "", r.stderr.toString());
});
