/**
 * Names for the bundled guest (images/riscv64) that mean the same file on every host: a VM started in a
 * browser tab has no host path for it, so its specification (and so its state file) says
 * `bundled:Image.gz`, and a Node host reads that from its own copy. A state file saved in the page thus
 * restores under `tvisor restore`, and one saved by Node restores in the page.
 */
export const BUNDLED_PREFIX = "bundled:";
export const BUNDLED_FILES = ["Image.gz", "initramfs.cpio.gz"] as const;
export const BUNDLED_KERNEL = `${BUNDLED_PREFIX}Image.gz`;
export const BUNDLED_INITRD = `${BUNDLED_PREFIX}initramfs.cpio.gz`;

/** The bundled file a path names ("bundled:Image.gz" → "Image.gz"), or null. */
export function bundledName(path: string): string | null {
  if (!path.startsWith(BUNDLED_PREFIX)) return null;
  const name = path.slice(BUNDLED_PREFIX.length);
  return (BUNDLED_FILES as readonly string[]).includes(name) ? name : null;
}
