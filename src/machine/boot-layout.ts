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
}

export interface BootLayout {
  kernelAddr: number;
  initrdAddr: number;
  fdtAddr: number;
}

const alignDown = (v: number, a: number) => v - (v % a);
const mib = (n: number) => `${Math.ceil(n / MiB)} MiB`;

/** Plan the layout; every failure is a one-line UserError saying how much memory is needed. */
export function planBootLayout(p: BootLayoutInput): BootLayout {
  const ramEnd = p.ramBase + p.ramSize;
  const kernelAddr = KERNEL_LOAD_ADDR;
  if (p.firmwareSize !== undefined && p.ramBase + p.firmwareSize > kernelAddr) {
    throw new UserError(
      `firmware is ${mib(p.firmwareSize)}; it must fit below the kernel at 0x${kernelAddr.toString(16)}`,
    );
  }
  const fdtAddr = alignDown(ramEnd - p.fdtSize, FDT_ALIGN);
  const initrdSize = p.initrdSize ?? 0;
  const initrdAddr = alignDown(fdtAddr - initrdSize, 4096);
  const kernelEnd = kernelAddr + (p.kernelSize ?? 0);
  const used = kernelEnd - p.ramBase + initrdSize + (ramEnd - fdtAddr);
  if (initrdAddr < kernelEnd + MIN_FREE_RAM || fdtAddr < p.ramBase) {
    const need = used + MIN_FREE_RAM;
    const parts = [`kernel ${mib(p.kernelSize ?? 0)}`];
    if (initrdSize > 0) parts.push(`initrd ${mib(initrdSize)}`);
    // The RAM size is the user's setting; the CLI names its flag (FieldError field "memBytes").
    const suggest = Math.ceil(need / MiB / 16) * 16;
    throw new FieldError(
      "memBytes",
      `memory too small: ${mib(p.ramSize)} of RAM cannot hold the ${parts.join(" and ")}; ${suggest}M or more is needed`,
      p.ramSize,
    );
  }
  return { kernelAddr, initrdAddr, fdtAddr };
}
