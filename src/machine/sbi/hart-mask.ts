/** Decodes the SBI hart mask (SBI spec v2.0 chapter 3.1) into a list of target hart IDs. */
import { SBI_ERR_INVALID_PARAM } from "./sbi-spec.js";

const ALL_ONES = (1n << 64n) - 1n;

/**
 * hart_mask_base = -1 (all ones) selects every hart and ignores hart_mask; otherwise bit i of
 * hart_mask selects hart hart_mask_base + i. Any selected hart that does not exist is an
 * SBI_ERR_INVALID_PARAM (chapter 3.1).
 */
export function decodeHartMask(mask: bigint, base: bigint, hartCount: number): number[] | number {
  if (base === ALL_ONES) return Array.from({ length: hartCount }, (_, i) => i);
  const out: number[] = [];
  for (let i = 0n; i < 64n; i++) {
    if (((mask >> i) & 1n) === 0n) continue;
    const id = base + i;
    if (id >= BigInt(hartCount)) return SBI_ERR_INVALID_PARAM;
    out.push(Number(id));
  }
  return out;
}
