/** Recognises and unpacks RISC-V Linux kernel images: the `Image` header, optionally gzip-compressed. */
import { UserError } from "../base/errors.js";
import { parseElf } from "./elf.js";

/**
 * Linux Documentation/riscv/boot-image-header.rst: a 64-byte little-endian header at the start of the
 * flat `Image`. `magic2` ("RSC\x05") is the current magic; `magic` ("RISCV") is deprecated but still set.
 */
export const IMAGE_HEADER_SIZE = 64;
export const RISCV_IMAGE_MAGIC = 0x5643534952n; // "RISCV"
export const RISCV_IMAGE_MAGIC2 = 0x05435352; // "RSC\x05"
/** Header flags bit 0: kernel endianness, 0 = little endian. */
const FLAG_BIG_ENDIAN = 1n;

export interface LinuxImageHeader {
  /** Offset from the 2 MiB-aligned RAM start where the image expects to be loaded. */
  textOffset: number;
  /** Bytes of memory the kernel occupies once loaded, including bss (mandatory since header 0.2). */
  imageSize: number;
  flags: bigint;
  /** Header version as major << 16 | minor. */
  version: number;
}

/**
 * Decompresses a gzip stream (RFC 1952), producing at most `maxBytes` bytes (the implementation may cap
 * lower); rejects with a UserError for corrupt data or larger output. Injected so the core stays free of
 * node:* modules.
 */
export type Gunzip = (data: Uint8Array, maxBytes?: number) => Promise<Uint8Array>;

/** RFC 1952 2.3.1: ID1 = 0x1f, ID2 = 0x8b, CM = 8 (deflate). */
export function isGzip(data: Uint8Array): boolean {
  return data.length >= 18 && data[0] === 0x1f && data[1] === 0x8b && data[2] === 8;
}

/** Parse and validate the Image header; throws a UserError naming what is wrong. */
export function parseLinuxImageHeader(data: Uint8Array, what = "kernel"): LinuxImageHeader {
  if (data.length < IMAGE_HEADER_SIZE) throw new UserError(`${what}: too short to be a RISC-V Linux Image`);
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const magic = dv.getBigUint64(48, true);
  const magic2 = dv.getUint32(56, true);
  if (magic2 !== RISCV_IMAGE_MAGIC2 && magic !== RISCV_IMAGE_MAGIC) {
    if (data[0] === 0x7f && data[1] === 0x45 && data[2] === 0x4c && data[3] === 0x46) {
      throw new UserError(`${what}: is an ELF file, not a RISC-V Linux Image (use arch/riscv/boot/Image)`);
    }
    throw new UserError(`${what}: not a RISC-V Linux Image (no "RSC\\x05" magic in the header)`);
  }
  const flags = dv.getBigUint64(24, true);
  if (flags & FLAG_BIG_ENDIAN) throw new UserError(`${what}: big-endian kernels are not supported`);
  const textOffset = Number(dv.getBigUint64(8, true));
  let imageSize = Number(dv.getBigUint64(16, true));
  // boot-image-header.rst: image_size 0 only in pre-0.2 headers; then the file size is the best bound.
  if (imageSize === 0) imageSize = data.length;
  // A 64-bit field beyond 2^53 is no real size (and would print rounded); say so rather than "smaller".
  if (!Number.isSafeInteger(imageSize)) {
    throw new UserError(
      `${what}: header image_size 0x${dv.getBigUint64(16, true).toString(16)} is not a plausible size`,
    );
  }
  if (imageSize < data.length) {
    throw new UserError(
      `${what}: header image_size ${imageSize} is smaller than the file (${data.length} bytes)`,
    );
  }
  if (!Number.isSafeInteger(textOffset) || textOffset % 4096 !== 0) {
    throw new UserError(`${what}: header text_offset ${textOffset} is not page aligned`);
  }
  return { textOffset, imageSize, flags, version: dv.getUint32(32, true) };
}

/** A kernel ready to be copied into RAM. */
export interface LinuxKernel {
  image: Uint8Array;
  header: LinuxImageHeader;
  compressed: boolean;
  /**
   * Physical address for `image` (an ELF's lowest segment); absent for an Image or a raw binary, which
   * go to the board's kernel start address.
   */
  loadAddr?: number;
  /** Physical entry point (an ELF's e_entry); absent means the start of `image`. */
  entry?: number;
}

/** Accept a flat Image or a gzip-compressed one (Image.gz), then validate the header. */
export async function loadLinuxKernel(
  data: Uint8Array,
  gunzip: Gunzip,
  what = "kernel",
  /** The most the kernel may decompress to (the guest's RAM: a larger kernel cannot be placed). */
  maxBytes?: number,
): Promise<LinuxKernel> {
  let image = data;
  const compressed = isGzip(data);
  if (compressed) {
    try {
      image = await gunzip(data, maxBytes);
    } catch (e) {
      if (e instanceof UserError) throw new UserError(`${what}: ${e.message}`);
      throw new UserError(`${what}: gzip data is corrupt (${e instanceof Error ? e.message : String(e)})`);
    }
  }
  return { image, header: parseLinuxImageHeader(image, what), compressed };
}

/** How `--kernel` was recognised: a Linux `Image`, an ELF executable, or a raw binary. */
export type KernelFormat = "image" | "elf" | "raw";

/** A kernel of any format QEMU's `-kernel` takes, placed as one contiguous block. */
export interface BootKernel extends LinuxKernel {
  format: KernelFormat;
}

/**
 * Accept what QEMU's riscv `-kernel` accepts (hw/riscv/boot.c riscv_load_kernel): an ELF executable is
 * loaded at its segments' physical addresses and entered at e_entry; anything else is copied to the
 * kernel start address and entered there — a Linux Image (whose header then gives image_size, the
 * memory it needs with bss) or a raw binary such as U-Boot's u-boot.bin. gzip is unpacked first, and
 * must hold an Image or an ELF (a raw program is never taken compressed).
 */
export async function loadBootKernel(
  data: Uint8Array,
  gunzip: Gunzip,
  what = "kernel",
  maxBytes?: number,
): Promise<BootKernel> {
  let bytes = data;
  const compressed = isGzip(data);
  if (compressed) {
    try {
      bytes = await gunzip(data, maxBytes);
    } catch (e) {
      if (e instanceof UserError) throw new UserError(`${what}: ${e.message}`);
      throw new UserError(`${what}: gzip data is corrupt (${e instanceof Error ? e.message : String(e)})`);
    }
  }
  if (bytes.length === 0) throw new UserError(`${what}: the file is empty`);
  if (bytes.length >= 4 && bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46) {
    return { ...flattenElf(bytes, what, maxBytes), compressed };
  }
  if (bytes.length >= IMAGE_HEADER_SIZE) {
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (dv.getUint32(56, true) === RISCV_IMAGE_MAGIC2 || dv.getBigUint64(48, true) === RISCV_IMAGE_MAGIC) {
      return { image: bytes, header: parseLinuxImageHeader(bytes, what), compressed, format: "image" };
    }
  }
  // A raw program shorter than one 32-bit instruction cannot be what the user meant (a truncated
  // download, the wrong file): refuse it rather than run whatever follows it in RAM.
  // gzip is how Linux ships its Image (Image.gz); a raw program is taken only as it is. Compressed junk
  // (a corrupt or wrong download) is then an error rather than code to run.
  if (compressed)
    throw new UserError(`${what}: the gzip data holds neither a Linux Image nor an ELF executable`);
  if (bytes.length < 4)
    throw new UserError(
      `${what}: ${bytes.length} bytes is too short for a kernel (not an ELF, a Linux Image or a raw program)`,
    );
  return { image: bytes, header: rawHeader(bytes.length), compressed, format: "raw" };
}

/** The header values a non-Image kernel stands for: it occupies its own length, nothing more. */
function rawHeader(size: number): LinuxImageHeader {
  return { textOffset: 0, imageSize: size, flags: 0n, version: 0 };
}

/** An ELF's PT_LOAD segments as one block from the lowest to the highest physical address (gaps zeroed). */
function flattenElf(data: Uint8Array, what: string, maxBytes?: number): Omit<BootKernel, "compressed"> {
  let elf: ReturnType<typeof parseElf>;
  try {
    elf = parseElf(data);
  } catch (e) {
    if (e instanceof UserError) throw new UserError(`${what}: ${e.message}`);
    throw e;
  }
  const segs = elf.segments.filter((s) => s.memSize > 0);
  if (segs.length === 0) throw new UserError(`${what}: ELF has no loadable segment`);
  const lo = Math.min(...segs.map((s) => s.paddr));
  const hi = Math.max(...segs.map((s) => s.paddr + s.memSize));
  const span = hi - lo;
  if (!Number.isSafeInteger(span) || (maxBytes !== undefined && span > maxBytes)) {
    throw new UserError(
      `${what}: ELF segments span 0x${lo.toString(16)}..0x${hi.toString(16)}, more than the guest's RAM`,
    );
  }
  const image = new Uint8Array(span);
  for (const s of segs) image.set(data.subarray(s.fileOffset, s.fileOffset + s.fileSize), s.paddr - lo);
  const entry = Number(BigInt.asUintN(64, elf.entry));
  if (!Number.isSafeInteger(entry) || entry < lo || entry >= hi) {
    throw new UserError(`${what}: ELF entry 0x${elf.entry.toString(16)} is outside its loaded segments`);
  }
  return { image, header: rawHeader(span), format: "elf", loadAddr: lo, entry };
}
