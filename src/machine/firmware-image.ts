/** M-mode firmware images: raw binaries load at the start of RAM; ELF images (as QEMU's -bios accepts) are flattened. */
import { UserError } from "../base/errors.js";
import { type ParseElfOptions, parseElf } from "./elf.js";

/**
 * Turn firmware into the flat image the board copies to `ramBase`. QEMU's virt board jumps from its
 * reset vector to the firmware's entry, which for OpenSBI's fw_*.elf is the start of RAM; we require
 * that, and that every loadable segment lies at or above it within `maxSize` bytes.
 */
export function flattenFirmware(
  data: Uint8Array,
  ramBase: number,
  maxSize: number,
  opts: ParseElfOptions = {},
): Uint8Array {
  if (!(data.length >= 4 && data[0] === 0x7f && data[1] === 0x45 && data[2] === 0x4c && data[3] === 0x46)) {
    return data;
  }
  const elf = parseElf(data, opts);
  if (elf.entry !== BigInt(ramBase)) {
    throw new UserError(
      `bios: ELF entry 0x${elf.entry.toString(16)} is not the start of RAM (0x${ramBase.toString(16)})`,
    );
  }
  let end = ramBase;
  for (const s of elf.segments) {
    if (s.paddr < ramBase || s.paddr + s.memSize > ramBase + maxSize) {
      throw new UserError(`bios: ELF segment at 0x${s.paddr.toString(16)} is outside the firmware area`);
    }
    end = Math.max(end, s.paddr + s.memSize);
  }
  const flat = new Uint8Array(end - ramBase);
  for (const s of elf.segments) {
    flat.set(data.subarray(s.fileOffset, s.fileOffset + s.fileSize), s.paddr - ramBase);
  }
  return flat;
}
