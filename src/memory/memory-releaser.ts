/**
 * What the host offers for guest RAM it backs: giving pages back (balloon inflate, free page reporting)
 * and letting identical pages be shared between VMs. Injected by the embedder (`vmm/`), so `memory/` and
 * the devices stay free of any host API; on Linux `memory/node/madvise.ts` implements it with madvise(2).
 */
export interface MemoryReleaser {
  /**
   * Give the host pages backing `view` (page-aligned start and length inside guest RAM) back: afterwards
   * the pages read as zeros and cost no host memory until touched again (MADV_DONTNEED on private
   * anonymous memory, as QEMU's ram_block_discard_range). False when the host could not release them.
   */
  release(view: Uint8Array): boolean;
  /**
   * Let the host merge identical pages of `view` with other processes' (MADV_MERGEABLE for Linux KSM, as
   * QEMU's mem-merge=on). False when the host refused.
   */
  shareable(view: Uint8Array): boolean;
}
