/**
 * Linux's MemoryReleaser: madvise(2) on the pages of guest RAM, through koffi (libc's madvise has no
 * Node binding). MADV_DONTNEED frees private anonymous pages at once, and they read as zeros when
 * touched again (madvise(2); QEMU's ram_block_discard_range does the same for balloon and free page
 * reporting). MADV_MERGEABLE lets KSM merge identical pages across processes (QEMU's mem-merge=on).
 */
import koffi from "koffi";
import type { MemoryReleaser } from "../memory-releaser.js";

// <asm-generic/mman-common.h>
const MADV_DONTNEED = 4;
const MADV_MERGEABLE = 12;
const PAGE = 4096;

type MadviseFn = (addr: Uint8Array, len: number, advice: number) => number;
type MemsetFn = (s: Uint8Array, c: number, n: number) => unknown;

interface Libc {
  madvise: MadviseFn;
  /** memset(view, 0, 0) returns the pointer koffi passed for `view`: how we learn (and check) it. */
  memset: MemsetFn;
}

let libc: Libc | null | undefined;

function loadLibc(): Libc | null {
  if (libc !== undefined) return libc;
  libc = null;
  if (process.platform !== "linux") return null;
  try {
    const lib = koffi.load("libc.so.6");
    libc = {
      madvise: lib.func("int madvise(void *addr, size_t len, int advice)") as MadviseFn,
      memset: lib.func("void *memset(void *s, int c, size_t n)") as MemsetFn,
    };
  } catch {
    libc = null;
  }
  return libc;
}

/**
 * The host address koffi passes for `view`, checked to be `view`'s own memory and not a copy: a byte
 * written through a raw view of that address must show in `view`, and back. Null when it is not.
 */
export function hostAddress(view: Uint8Array): bigint | null {
  const c = loadLibc();
  if (c === null || view.length === 0) return null;
  const p = c.memset(view, 0, 0);
  if (p === null) return null;
  const raw = new Uint8Array(koffi.view(p, 1));
  const old = view[0];
  view[0] = old ^ 0x5a;
  const seen = raw[0];
  raw[0] = old;
  const ok = seen === (old ^ 0x5a) && view[0] === old;
  view[0] = old;
  return ok ? BigInt(koffi.address(p)) : null;
}

/**
 * A releaser for guest RAM held in `buffer` (a WebAssembly.Memory's or a plain ArrayBuffer, which V8
 * backs with private anonymous mmap), or null when this host cannot provide one (not Linux, no libc,
 * or koffi would pass a copy instead of the buffer itself).
 */
export function createMadviseReleaser(buffer: ArrayBuffer): MemoryReleaser | null {
  const c = loadLibc();
  if (c === null) return null;
  const base = hostAddress(new Uint8Array(buffer));
  if (base === null || base % BigInt(PAGE) !== 0n) return null;
  // Only whole pages of `buffer` are advised: an unaligned view would take a neighbour's page with it.
  const aligned = (view: Uint8Array) =>
    view.buffer === buffer && view.byteOffset % PAGE === 0 && view.length % PAGE === 0 && view.length > 0;
  return {
    release(view) {
      return aligned(view) && c.madvise(view, view.length, MADV_DONTNEED) === 0;
    },
    shareable(view) {
      // Whole pages only: round the view inward (guest RAM starts page-aligned after the control area).
      const start = Math.ceil(view.byteOffset / PAGE) * PAGE;
      const end = Math.floor((view.byteOffset + view.length) / PAGE) * PAGE;
      if (end <= start || view.buffer !== buffer) return false;
      return c.madvise(new Uint8Array(buffer, start, end - start), end - start, MADV_MERGEABLE) === 0;
    },
  };
}
