/** Builds the device tree of the riscv-virt board from its configuration, shaped like QEMU's `virt` tree. */
import { cells64, FdtWriter } from "./fdt.js";
import {
  FINISHER_PASS,
  FINISHER_RESET,
  TIMEBASE_FREQUENCY,
  UART_CLOCK_FREQUENCY,
  VIRT_CLINT_BASE,
  VIRT_CLINT_SIZE,
  VIRT_PLIC_BASE,
  VIRT_PLIC_NDEV,
  VIRT_RTC_BASE,
  VIRT_RTC_IRQ,
  VIRT_RTC_SIZE,
  VIRT_TEST_BASE,
  VIRT_TEST_SIZE,
  VIRT_UART0_BASE,
  VIRT_UART0_IRQ,
  VIRT_UART0_SIZE,
  VIRT_VIRTIO_COUNT,
  VIRT_VIRTIO_SIZE,
  virtioSlotBase,
  virtioSlotIrq,
  virtPlicSize,
} from "./virt-memory-map.js";

/** The ISA string the interpreter implements: RV64GC plus the counters and the Sstc timer extension. */
export const DEFAULT_RISCV_ISA = "rv64imafdc_zicsr_zifencei_zicntr_sstc";

export interface VirtFdtConfig {
  harts: number;
  /** `riscv,isa` of every hart (RISC-V ISA string; Linux 6.1 parses single letters and `_z*`/`_s*` names). */
  isa?: string;
  /** `mmu-type`: the widest translation mode the harts support. */
  mmuType?: "riscv,sv39" | "riscv,sv48" | "riscv,sv57";
  ramBase: number;
  ramSize: number;
  /** Kernel command line (`/chosen/bootargs`). */
  bootargs?: string;
  /** Physical range of the initramfs, [start, end). */
  initrd?: { start: number; end: number };
  /** Seed for the guest RNG (`/chosen/rng-seed`, Linux drivers/of/fdt.c), e.g. 32 random bytes. */
  rngSeed?: Uint8Array;
  /** Indices (0..7) of populated virtio-mmio slots; only these get nodes. */
  virtioSlots?: number[];
}

/**
 * Emit the tree. Node names, compatibles and properties mirror QEMU hw/riscv/virt.c `create_fdt_*`,
 * because OpenSBI's generic platform and Linux drivers match on exactly these compatibles.
 */
export function buildVirtFdt(cfg: VirtFdtConfig): Uint8Array {
  if (!Number.isInteger(cfg.harts) || cfg.harts < 1) throw new RangeError("at least one hart is required");
  const w = new FdtWriter(0);
  const isa = cfg.isa ?? DEFAULT_RISCV_ISA;
  const reg = (base: number, size: number) => [...cells64(base), ...cells64(size)];

  const intcPhandles: number[] = [];
  for (let i = 0; i < cfg.harts; i++) intcPhandles.push(w.allocPhandle());
  const plicPhandle = w.allocPhandle();
  const testPhandle = w.allocPhandle();

  w.beginNode("");
  // DT spec 3.1: the root node. 2 address and 2 size cells as QEMU uses (RAM can exceed 4 GiB).
  w.propU32("#address-cells", 2);
  w.propU32("#size-cells", 2);
  w.prop("compatible", "riscv-virtio");
  w.prop("model", "riscv-virtio,qemu");

  // Linux drivers/of/fdt.c early_init_dt_scan_chosen: bootargs, initrd range and rng-seed.
  w.beginNode("chosen");
  if (cfg.bootargs !== undefined) w.prop("bootargs", cfg.bootargs);
  w.prop("stdout-path", `/soc/serial@${VIRT_UART0_BASE.toString(16)}`);
  if (cfg.initrd) {
    w.propU64("linux,initrd-start", cfg.initrd.start);
    w.propU64("linux,initrd-end", cfg.initrd.end);
  }
  if (cfg.rngSeed) w.prop("rng-seed", cfg.rngSeed);
  w.endNode();

  // DT spec 3.4: /memory. device_type "memory" with reg covering all of RAM.
  w.beginNode(`memory@${cfg.ramBase.toString(16)}`);
  w.prop("device_type", "memory");
  w.prop("reg", reg(cfg.ramBase, cfg.ramSize));
  w.endNode();

  // DT spec 3.7/3.8 and Linux Documentation/devicetree/bindings/riscv/cpus.yaml.
  w.beginNode("cpus");
  w.propU32("#address-cells", 1);
  w.propU32("#size-cells", 0);
  w.propU32("timebase-frequency", TIMEBASE_FREQUENCY);
  for (let i = 0; i < cfg.harts; i++) {
    w.beginNode(`cpu@${i}`);
    w.prop("device_type", "cpu");
    w.propU32("reg", i);
    w.prop("status", "okay");
    w.prop("compatible", "riscv");
    w.prop("riscv,isa", isa);
    w.prop("mmu-type", cfg.mmuType ?? "riscv,sv48");
    // bindings/interrupt-controller/riscv,cpu-intc.txt: the hart-local controller that PLIC/CLINT target.
    w.beginNode("interrupt-controller");
    w.propU32("#address-cells", 0);
    w.propU32("#interrupt-cells", 1);
    w.propEmpty("interrupt-controller");
    w.prop("compatible", "riscv,cpu-intc");
    w.propU32("phandle", intcPhandles[i]);
    w.endNode();
    w.endNode();
  }
  w.endNode();

  // SiFive test finisher as a syscon, plus Linux's syscon-poweroff/syscon-reboot bindings on top of it.
  for (const [action, value] of [
    ["poweroff", FINISHER_PASS],
    ["reboot", FINISHER_RESET],
  ] as const) {
    w.beginNode(action);
    w.prop("compatible", `syscon-${action}`);
    w.propU32("regmap", testPhandle);
    w.propU32("offset", 0);
    w.propU32("value", value);
    w.endNode();
  }

  w.beginNode("soc");
  w.propU32("#address-cells", 2);
  w.propU32("#size-cells", 2);
  w.prop("compatible", "simple-bus");
  w.propEmpty("ranges");

  w.beginNode(`test@${VIRT_TEST_BASE.toString(16)}`);
  w.prop("compatible", ["sifive,test1", "sifive,test0", "syscon"]);
  w.prop("reg", reg(VIRT_TEST_BASE, VIRT_TEST_SIZE));
  w.propU32("phandle", testPhandle);
  w.endNode();

  w.beginNode(`rtc@${VIRT_RTC_BASE.toString(16)}`);
  w.prop("compatible", "google,goldfish-rtc");
  w.prop("reg", reg(VIRT_RTC_BASE, VIRT_RTC_SIZE));
  w.propU32("interrupt-parent", plicPhandle);
  w.propU32("interrupts", VIRT_RTC_IRQ);
  w.endNode();

  // SiFive CLINT binding: per hart, machine software (3) and machine timer (7) interrupts.
  w.beginNode(`clint@${VIRT_CLINT_BASE.toString(16)}`);
  w.prop("compatible", ["sifive,clint0", "riscv,clint0"]);
  w.prop("reg", reg(VIRT_CLINT_BASE, VIRT_CLINT_SIZE));
  w.prop(
    "interrupts-extended",
    intcPhandles.flatMap((p) => [p, 3, p, 7]),
  );
  w.endNode();

  // sifive,plic-1.0.0 binding: context 2h is hart h's M-mode external interrupt (11), 2h+1 its S-mode one (9).
  w.beginNode(`plic@${VIRT_PLIC_BASE.toString(16)}`);
  w.propU32("phandle", plicPhandle);
  w.propU32("riscv,ndev", VIRT_PLIC_NDEV);
  w.prop("reg", reg(VIRT_PLIC_BASE, virtPlicSize(cfg.harts)));
  w.prop(
    "interrupts-extended",
    intcPhandles.flatMap((p) => [p, 11, p, 9]),
  );
  w.propEmpty("interrupt-controller");
  w.prop("compatible", ["sifive,plic-1.0.0", "riscv,plic0"]);
  w.propU32("#address-cells", 0);
  w.propU32("#interrupt-cells", 1);
  w.endNode();

  w.beginNode(`serial@${VIRT_UART0_BASE.toString(16)}`);
  w.propU32("interrupts", VIRT_UART0_IRQ);
  w.propU32("interrupt-parent", plicPhandle);
  w.propU32("clock-frequency", UART_CLOCK_FREQUENCY);
  w.prop("reg", reg(VIRT_UART0_BASE, VIRT_UART0_SIZE));
  w.prop("compatible", "ns16550a");
  w.endNode();

  const slots = [...new Set(cfg.virtioSlots ?? [])].sort((a, b) => a - b);
  for (const slot of slots) {
    if (!Number.isInteger(slot) || slot < 0 || slot >= VIRT_VIRTIO_COUNT) {
      throw new RangeError(`virtio slot ${slot} out of range 0..${VIRT_VIRTIO_COUNT - 1}`);
    }
    const base = virtioSlotBase(slot);
    w.beginNode(`virtio_mmio@${base.toString(16)}`);
    w.propU32("interrupts", virtioSlotIrq(slot));
    w.propU32("interrupt-parent", plicPhandle);
    w.prop("reg", reg(base, VIRT_VIRTIO_SIZE));
    w.prop("compatible", "virtio,mmio");
    w.endNode();
  }

  w.endNode(); // soc
  w.endNode(); // root
  return w.finish();
}
