/** Decides where the firmware, kernel, initramfs and device tree go in guest RAM, and checks that they fit. */
import { FieldError, UserError } from "../base/errors.js";
import { KERNEL_LOAD_ADDR } from "./virt-memory-map.js";

const MiB = 1024 * 1024;
/** Linux needs working memory beyond its image; below this a boot cannot get to user space. */
export const MIN_FREE_RAM = 16 * MiB;
/** QEMU hw/riscv/boot.c riscv_compute_fdt_addr: the DTB sits 2 MiB-aligned at the top of RAM. */
const FDT_ALIGN = 2 * MiB;
/**
 * OpenSBI's generic fw_jump copies the DTB to FW_TEXT_START + 0x2200000 (platform/generic/objects.mk),
 * so with firmware nothing we place may overlap [0x82200000, +fdt size).
 */
export const FW_JUMP_FDT_ADDR = 0x82200000;

export interface BootLayoutInput {
  ramBase: number;
  ramSize: number;
  kernelSize?: number; // header image_size (includes bss)
  initrdSize?: number;
  fdtSize: number;
  firmwareSize?: number;
  /** Where the kernel goes; default KERNEL_LOAD_ADDR (an ELF kernel gives its own physical address). */
  kernelAddr?: number;
}

export interface BootLayout {
  kernelAddr: number;
  initrdAddr: number;
  fdtAddr: number;
}

const alignDown = (v: number, a: number) => v - (v % a);
const alignUp = (v: number, a: number) => Math.ceil(v / a) * a;
const mib = (n: number) => `${Math.ceil(n / MiB)} MiB`;

/**
 * The RAM this layout needs: everything below the kernel's end, the free gap Linux needs, the initrd
 * (4 KiB-aligned) and the FDT's 2 MiB-aligned block at the top. Rounded up to 2 MiB, the granule of the
 * FDT's placement, so that this much RAM (and any 2 MiB multiple above it) is enough.
 */
function neededRam(p: BootLayoutInput, kernelEnd: number): number {
  const top = alignUp(p.initrdSize ?? 0, 4096) + alignUp(Math.max(p.fdtSize, 1), FDT_ALIGN);
  return alignUp(kernelEnd - p.ramBase + MIN_FREE_RAM + top, FDT_ALIGN);
}

/**
 * Plan the layout, as QEMU's hw/riscv/boot.c does: the kernel at 0x80200000, the DTB 2 MiB-aligned at
 * the top of RAM and the initrd just below it. Every failure is a one-line UserError that says what the
 * layout needs, so the sizes in it add up.
 */
export function planBootLayout(p: BootLayoutInput): BootLayout {
  const ramEnd = p.ramBase + p.ramSize;
  const kernelAddr = p.kernelAddr ?? KERNEL_LOAD_ADDR;
  if (kernelAddr < p.ramBase || kernelAddr >= ramEnd) {
    throw new UserError(`the kernel's load address 0x${kernelAddr.toString(16)} is outside RAM`);
  }
  if (p.firmwareSize !== undefined && p.ramBase + p.firmwareSize > kernelAddr) {
    throw new UserError(
      `firmware is ${mib(p.firmwareSize)}; it must fit below the kernel at 0x${kernelAddr.toString(16)}`,
    );
  }
  const fdtAddr = alignDown(ramEnd - p.fdtSize, FDT_ALIGN);
  const initrdSize = p.initrdSize ?? 0;
  const initrdAddr = alignDown(fdtAddr - initrdSize, 4096);
  const kernelEnd = kernelAddr + (p.kernelSize ?? 0);
  if (initrdAddr < kernelEnd + MIN_FREE_RAM || fdtAddr < p.ramBase) {
    const parts = [
      `the kernel at 0x${kernelAddr.toString(16)} (${mib(kernelAddr - p.ramBase)} into RAM) spanning ${mib(p.kernelSize ?? 0)} (its image_size)`,
      `${mib(MIN_FREE_RAM)} free above it for Linux`,
    ];
    if (initrdSize > 0) parts.push(`the initrd (${mib(initrdSize)})`);
    parts.push(`the device tree in a 2 MiB-aligned block at the top of RAM`);
    // The RAM size is the user's setting; the CLI names its flag (FieldError field "memBytes").
    throw new FieldError(
      "memBytes",
      `memory too small: the boot layout needs ${mib(neededRam(p, kernelEnd))} of RAM, not ${mib(p.ramSize)}: ${parts.join(", ")}`,
      p.ramSize,
    );
  }
  return { kernelAddr, initrdAddr, fdtAddr };
}
