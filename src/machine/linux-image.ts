/** Recognises and unpacks RISC-V Linux kernel images: the `Image` header, optionally gzip-compressed. */
import { UserError } from "../base/errors.js";

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
