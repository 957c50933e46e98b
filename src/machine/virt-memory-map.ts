/** The physical memory map and interrupt numbers of the riscv-virt board, matching QEMU's `virt` machine. */

/**
 * Addresses and sizes follow QEMU hw/riscv/virt.c `virt_memmap[]` so that stock OpenSBI (generic
 * platform, which discovers everything from the device tree) and defconfig-style kernels work unchanged.
 */
export const VIRT_MROM_BASE = 0x1000;
export const VIRT_MROM_SIZE = 0xf000;
export const VIRT_TEST_BASE = 0x100000;
export const VIRT_TEST_SIZE = 0x1000;
export const VIRT_RTC_BASE = 0x101000;
export const VIRT_RTC_SIZE = 0x1000;
export const VIRT_CLINT_BASE = 0x2000000;
export const VIRT_CLINT_SIZE = 0x10000;
export const VIRT_PLIC_BASE = 0xc000000;
export const VIRT_UART0_BASE = 0x10000000;
export const VIRT_UART0_SIZE = 0x100;
export const VIRT_VIRTIO_BASE = 0x10001000;
export const VIRT_VIRTIO_SIZE = 0x1000;
export const VIRT_VIRTIO_COUNT = 8;
export const VIRT_DRAM_BASE = 0x80000000;

/** QEMU include/hw/riscv/virt.h: VIRTIO_IRQ 1..8, UART0_IRQ 10, RTC_IRQ 11. */
export const VIRT_VIRTIO_IRQ = 1;
export const VIRT_UART0_IRQ = 10;
export const VIRT_RTC_IRQ = 11;
/** VIRT_IRQCHIP_NUM_SOURCES = 96; source 0 is reserved, so `riscv,ndev` is 95. */
export const VIRT_PLIC_NUM_SOURCES = 96;
export const VIRT_PLIC_NDEV = 95;

/** The MMIO base of virtio-mmio slot `slot` (0..VIRT_VIRTIO_COUNT-1): the slots sit back to back. */
export function virtioSlotBase(slot: number): number {
  return VIRT_VIRTIO_BASE + slot * VIRT_VIRTIO_SIZE;
}

/** The PLIC source of virtio-mmio slot `slot`. */
export function virtioSlotIrq(slot: number): number {
  return VIRT_VIRTIO_IRQ + slot;
}

/** QEMU VIRT_PLIC_SIZE(contexts): 0x200000 of global registers plus 0x1000 per context (2 per hart). */
export function virtPlicSize(harts: number): number {
  return 0x200000 + harts * 2 * 0x1000;
}

/** RISC-V Linux boot (Documentation/riscv/boot.rst): rv64 kernels sit 2 MiB-aligned; QEMU puts them at +2 MiB. */
export const KERNEL_LOAD_ADDR = 0x80200000;
/** The ns16550a input clock QEMU advertises (3.6864 MHz), which 8250 drivers use to derive baud divisors. */
export const UART_CLOCK_FREQUENCY = 3686400;
/** ACLINT mtime frequency (QEMU RISCV_ACLINT_DEFAULT_TIMEBASE_FREQ), also the DT `timebase-frequency`. */
export const TIMEBASE_FREQUENCY = 10_000_000;
/** SiFive test finisher values (QEMU include/hw/misc/sifive_test.h). */
export const FINISHER_FAIL = 0x3333;
export const FINISHER_PASS = 0x5555;
export const FINISHER_RESET = 0x7777;
