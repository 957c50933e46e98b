/** How large a kernel, initramfs or firmware file may be: what guest RAM can hold, and never more than a stated maximum. */

/**
 * The most any boot file (kernel, initramfs, firmware, bare program) may be or decompress to, whatever
 * the RAM size: these are read whole into host memory, and nothing this large is a plausible boot image.
 */
export const MAX_BOOT_FILE_BYTES = 1024 * 1024 * 1024;

/**
 * The limit for a VM with `memBytes` of RAM: a kernel or initramfs larger than RAM cannot be placed, so
 * reading (or decompressing) more than that is work and memory for nothing.
 */
export function bootFileLimit(memBytes: number): number {
  return Math.min(memBytes, MAX_BOOT_FILE_BYTES);
}

/** The words for the limit in an error message. */
export function bootFileLimitReason(memBytes: number): string {
  return memBytes <= MAX_BOOT_FILE_BYTES ? "the guest's RAM" : "the 1 GiB limit for boot files";
}
