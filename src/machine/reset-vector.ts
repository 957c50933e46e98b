/** The QEMU-virt reset vector and OpenSBI `fw_dynamic_info` block that the board's mask ROM holds. */
import { VIRT_MROM_BASE } from "./virt-memory-map.js";

/**
 * OpenSBI include/sbi/fw_dynamic.h: struct fw_dynamic_info { magic, version, next_addr, next_mode,
 * options, boot_hart } as six XLEN words. Version 2 added boot_hart.
 */
export const FW_DYNAMIC_INFO_MAGIC = 0x4942534f; // "OSBI"
export const FW_DYNAMIC_INFO_VERSION = 2;
export const FW_DYNAMIC_INFO_NEXT_MODE_S = 1;
/** Offsets inside the ROM: code, then start address, FDT address and fw_dynamic_info (QEMU hw/riscv/boot.c). */
export const RESET_VEC_START_ADDR_OFFSET = 0x18;
export const RESET_VEC_FDT_ADDR_OFFSET = 0x20;
export const RESET_VEC_DYNAMIC_INFO_OFFSET = 0x28;

/**
 * QEMU's six-instruction trampoline, so software that inspects 0x1000 finds the usual layout:
 *   auipc t0,0; addi a2,t0,40; csrr a0,mhartid; ld a1,32(t0); ld t0,24(t0); jr t0
 * The board applies the same register state directly (a0 = hartid, a1 = FDT, a2 = &fw_dynamic_info,
 * pc = start address) because the interpreter fetches instructions only from RAM.
 */
const TRAMPOLINE = [0x00000297, 0x02828613, 0xf1402573, 0x0202b583, 0x0182b283, 0x00028067];

export interface ResetVectorParams {
  startAddr: number;
  fdtAddr: number;
  /** Where fw_dynamic should jump next (the kernel), in S-mode. */
  nextAddr: number;
  bootHart?: number;
}

export function buildResetVector(p: ResetVectorParams): Uint8Array {
  const rom = new Uint8Array(RESET_VEC_DYNAMIC_INFO_OFFSET + 6 * 8);
  const dv = new DataView(rom.buffer);
  TRAMPOLINE.forEach((insn, i) => {
    dv.setUint32(i * 4, insn, true);
  });
  dv.setBigUint64(RESET_VEC_START_ADDR_OFFSET, BigInt(p.startAddr), true);
  dv.setBigUint64(RESET_VEC_FDT_ADDR_OFFSET, BigInt(p.fdtAddr), true);
  const info = [
    FW_DYNAMIC_INFO_MAGIC,
    FW_DYNAMIC_INFO_VERSION,
    p.nextAddr,
    FW_DYNAMIC_INFO_NEXT_MODE_S,
    0,
    p.bootHart ?? 0,
  ];
  info.forEach((v, i) => {
    dv.setBigUint64(RESET_VEC_DYNAMIC_INFO_OFFSET + i * 8, BigInt(v), true);
  });
  return rom;
}

/** Guest-physical address of fw_dynamic_info (passed in a2). */
export const FW_DYNAMIC_INFO_ADDR = VIRT_MROM_BASE + RESET_VEC_DYNAMIC_INFO_OFFSET;
