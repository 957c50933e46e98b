/** Sv39/Sv48 address translation with hardware A/D updates, and the slow paths of loads, stores and fetches. */
import { TWO_POW_32 } from "../base/u64.js";
import {
  ACCESS_FETCH,
  ACCESS_LOAD,
  ACCESS_STORE,
  CAUSE_FETCH_ACCESS,
  CAUSE_FETCH_PAGE_FAULT,
  CAUSE_LOAD_ACCESS,
  CAUSE_LOAD_PAGE_FAULT,
  CAUSE_STORE_ACCESS,
  CAUSE_STORE_PAGE_FAULT,
  MSTATUS_MXR,
  MSTATUS_SUM,
  PRIV_M,
  PRIV_S,
  PRIV_U,
} from "./csr-bits.js";
import { type HartState, pairToNum } from "./hart-state.js";
import { pmpAllows } from "./pmp.js";
import { raiseException } from "./trap.js";

/** translate() results below zero: the kind of fault. */
export const FAULT_PAGE = -1;
export const FAULT_ACCESS = -2;

const PTE_V = 1;
const PTE_R = 2;
const PTE_W = 4;
const PTE_X = 8;
const PTE_U = 16;
const PTE_A = 64;
const PTE_D = 128;

const PAGE_FAULT_CAUSE = [CAUSE_FETCH_PAGE_FAULT, CAUSE_LOAD_PAGE_FAULT, CAUSE_STORE_PAGE_FAULT];
const ACCESS_FAULT_CAUSE = [CAUSE_FETCH_ACCESS, CAUSE_LOAD_ACCESS, CAUSE_STORE_ACCESS];

/** Largest |high word| that the fast paths accept; beyond it an address is non-canonical under every mode. */
export const HI_LIMIT = 1 << 20;

/**
 * Translate a virtual address (signed JS number) for one access. Returns the physical address, or
 * FAULT_PAGE / FAULT_ACCESS. Implements the algorithm of privileged spec 4.3.2 for Sv39 and 4.5 for Sv48,
 * with A and D set by the hart (the Svade alternative is also legal; Linux accepts either).
 */
export function translate(st: HartState, va: number, access: number, priv: number): number {
  st.lastLeafLevel = 0;
  if (priv === PRIV_M || st.satpMode === 0) {
    // Bare: physical addresses are at most 56 bits; a "negative" (bit 63 set) address cannot exist.
    return va < 0 || va >= 2 ** 56 ? FAULT_ACCESS : va;
  }
  const levels = st.satpMode === 8 ? 3 : 4;
  const vaBits = 12 + 9 * levels;
  const limit = 2 ** (vaBits - 1);
  // Bits above the top VA bit must equal it (spec 4.3.2 "instruction, load and store effective addresses").
  if (va < -limit || va >= limit) return FAULT_PAGE;
  const ram = st.ram;
  let table = st.satpRoot;
  for (let level = levels - 1; level >= 0; level--) {
    const vpn = Math.floor(va / 2 ** (12 + 9 * level)) & 511;
    const pteAddr = table + vpn * 8;
    // Page-table reads are implicit S-mode accesses for PMP (spec 3.7.1).
    if (!ram.contains(pteAddr, 8) || !pmpAllows(st, pteAddr, 8, ACCESS_LOAD, PRIV_S)) return FAULT_ACCESS;
    const idx = (pteAddr - ram.base) >>> 2;
    let lo = ram.i32[idx];
    const hi = ram.i32[idx + 1];
    // Bits 63:54 (N, PBMT, reserved) must be zero without Svnapot/Svpbmt (spec 4.4.1).
    if ((lo & PTE_V) === 0 || (lo & (PTE_R | PTE_W)) === PTE_W || hi >>> 22 !== 0) return FAULT_PAGE;
    const ppn = (hi & 0x3fffff) * 4194304 + (lo >>> 10);
    if ((lo & (PTE_R | PTE_X)) === 0) {
      // Pointer to the next level.
      if (level === 0) return FAULT_PAGE;
      table = ppn * 4096;
      continue;
    }
    // Leaf: permission checks (spec 4.3.1 and 4.3.2 step 5).
    if (priv === PRIV_U) {
      if ((lo & PTE_U) === 0) return FAULT_PAGE;
    } else if ((lo & PTE_U) !== 0) {
      if (access === ACCESS_FETCH || (st.mstatus & MSTATUS_SUM) === 0) return FAULT_PAGE;
    }
    if (access === ACCESS_FETCH) {
      if ((lo & PTE_X) === 0) return FAULT_PAGE;
    } else if (access === ACCESS_LOAD) {
      if ((lo & PTE_R) === 0 && ((st.mstatus & MSTATUS_MXR) === 0 || (lo & PTE_X) === 0)) return FAULT_PAGE;
    } else if ((lo & PTE_W) === 0) {
      return FAULT_PAGE;
    }
    // A superpage whose PPN is not aligned to its size is a misaligned superpage (step 6).
    const span = 2 ** (9 * level);
    if (ppn % span !== 0) return FAULT_PAGE;
    // Hardware A/D update (step 7): written back to the PTE in memory.
    const want = access === ACCESS_STORE ? PTE_A | PTE_D : PTE_A;
    if ((lo & want) !== want) {
      if (!pmpAllows(st, pteAddr, 8, ACCESS_STORE, PRIV_S)) return FAULT_ACCESS;
      lo |= want;
      ram.i32[idx] = lo;
      ram.noteWrite(idx * 4, 4);
    }
    st.lastLeafLevel = level;
    const pageSize = 4096 * span;
    const offset = ((va % pageSize) + pageSize) % pageSize;
    return ppn * 4096 + offset;
  }
  return FAULT_PAGE;
}

/** Raise the right fault for a failed translation or bus access. tval is the faulting virtual address. */
function fault(st: HartState, kind: number, access: number, lo: number, hi: number): void {
  const cause = kind === FAULT_PAGE ? PAGE_FAULT_CAUSE[access] : ACCESS_FAULT_CAUSE[access];
  raiseException(st, cause, lo, hi);
}

/** Effective privilege of the access: fetches use the current mode, data accesses honour MPRV. */
function accessPriv(st: HartState, access: number): number {
  return access === ACCESS_FETCH ? st.priv : st.dataPriv();
}

/** Translate and check PMP for `len` bytes, with the fault raised; returns the physical address or -1. */
function translateOrTrap(st: HartState, lo: number, hi: number, access: number, len: number): number {
  if (hi >= HI_LIMIT || hi < -HI_LIMIT) {
    const priv = accessPriv(st, access);
    const bare = priv === PRIV_M || st.satpMode === 0;
    fault(st, bare ? FAULT_ACCESS : FAULT_PAGE, access, lo, hi);
    return -1;
  }
  const priv = accessPriv(st, access);
  const pa = translate(st, pairToNum(lo, hi), access, priv);
  if (pa < 0) {
    fault(st, pa, access, lo, hi);
    return -1;
  }
  if (!pmpAllows(st, pa, len, access, priv)) {
    fault(st, FAULT_ACCESS, access, lo, hi);
    return -1;
  }
  return pa;
}

/** Add a signed offset to an int32 pair address. */
function addrAdd(lo: number, hi: number, n: number): [number, number] {
  const s = (lo >>> 0) + n;
  return [s | 0, (hi + Math.floor(s / TWO_POW_32)) | 0];
}

/** Read `size` bytes (1, 2, 4, 8) at a physical address; -1 (as fault flag) via return value false. */
function physRead(st: HartState, pa: number, size: number): boolean {
  const ram = st.ram;
  if (ram.contains(pa, size)) {
    const off = pa - ram.base;
    const v = ram.view;
    if (size === 8) {
      st.tmpLo = v.getInt32(off, true);
      st.tmpHi = v.getInt32(off + 4, true);
    } else {
      st.tmpLo = size === 1 ? ram.u8[off] : size === 2 ? v.getUint16(off, true) : v.getInt32(off, true);
      st.tmpHi = 0;
    }
    return true;
  }
  if (size === 8) {
    const a = st.bus.read(pa, 4);
    const b = st.bus.read(pa + 4, 4);
    if (a < 0 || b < 0) return false;
    st.tmpLo = a | 0;
    st.tmpHi = b | 0;
    return true;
  }
  const r = st.bus.read(pa, size as 1 | 2 | 4);
  if (r < 0) return false;
  st.tmpLo = r | 0;
  st.tmpHi = 0;
  return true;
}

function physWrite(st: HartState, pa: number, size: number, lo: number, hi: number): boolean {
  if (size === 8) {
    const ram = st.ram;
    if (ram.contains(pa, 8)) {
      ram.view.setInt32(pa - ram.base, lo, true);
      ram.view.setInt32(pa - ram.base + 4, hi, true);
      ram.noteWrite(pa - ram.base, 8);
      return true;
    }
    if (st.bus.findRegion(pa, 8) === undefined) return false;
    return st.bus.write(pa, 4, lo) && st.bus.write(pa + 4, 4, hi);
  }
  return st.bus.write(pa, size as 1 | 2 | 4, lo);
}

/** Cache a RAM page translation in the TLB of this access type. */
function tlbFill(st: HartState, lo: number, hi: number, pa: number, access: number): void {
  const ram = st.ram;
  const page = pa - (pa % 4096);
  const priv = accessPriv(st, access);
  // A TLB hit skips PMP, so only pages that PMP allows whole are cached. Stores to pages holding
  // translated code stay on this slow path, whose writes reach GuestRam.noteWrite.
  if (!ram.contains(page, 4096) || !pmpAllows(st, page, 4096, access, priv)) return;
  if (access === ACCESS_STORE && !ram.storeCacheable(page - ram.base)) return;
  const set = st.tlbSets[priv === PRIV_M ? 2 : priv === PRIV_S ? 1 : 0];
  const tlb = access === ACCESS_LOAD ? set.load : access === ACCESS_STORE ? set.store : set.fetch;
  if (st.lastLeafLevel > 0) st.superpageCached = true;
  tlb.fill(lo, hi, page - ram.base);
}

/**
 * Load `size` bytes at virtual address (lo, hi), zero-extended into st.tmpLo/tmpHi (the caller sign-extends).
 * Returns false when a trap was raised. Misaligned accesses are performed byte by byte (the spec lets the
 * execution environment handle them), after every byte's translation succeeded, so a fault has no side effect.
 */
export function loadSlow(st: HartState, lo: number, hi: number, size: number): boolean {
  if ((lo & (size - 1)) === 0) {
    const pa = translateOrTrap(st, lo, hi, ACCESS_LOAD, size);
    if (pa < 0) return false;
    if (!physRead(st, pa, size)) {
      fault(st, FAULT_ACCESS, ACCESS_LOAD, lo, hi);
      return false;
    }
    tlbFill(st, lo, hi, pa, ACCESS_LOAD);
    return true;
  }
  const pas: number[] = [];
  for (let i = 0; i < size; i++) {
    const [l, h] = addrAdd(lo, hi, i);
    const pa = translateOrTrap(st, l, h, ACCESS_LOAD, 1);
    if (pa < 0) return false;
    pas.push(pa);
  }
  let rlo = 0;
  let rhi = 0;
  for (let i = 0; i < size; i++) {
    if (!physRead(st, pas[i], 1)) {
      const [l, h] = addrAdd(lo, hi, i);
      fault(st, FAULT_ACCESS, ACCESS_LOAD, l, h);
      return false;
    }
    if (i < 4) rlo |= st.tmpLo << (8 * i);
    else rhi |= st.tmpLo << (8 * (i - 4));
  }
  st.tmpLo = rlo;
  st.tmpHi = rhi;
  return true;
}

/** Store the low `size` bytes of (vlo, vhi) at virtual address (lo, hi). Returns false when a trap was raised. */
export function storeSlow(
  st: HartState,
  lo: number,
  hi: number,
  size: number,
  vlo: number,
  vhi: number,
): boolean {
  if ((lo & (size - 1)) === 0) {
    const pa = translateOrTrap(st, lo, hi, ACCESS_STORE, size);
    if (pa < 0) return false;
    if (!physWrite(st, pa, size, vlo, vhi)) {
      fault(st, FAULT_ACCESS, ACCESS_STORE, lo, hi);
      return false;
    }
    tlbFill(st, lo, hi, pa, ACCESS_STORE);
    return true;
  }
  const pas: number[] = [];
  for (let i = 0; i < size; i++) {
    const [l, h] = addrAdd(lo, hi, i);
    const pa = translateOrTrap(st, l, h, ACCESS_STORE, 1);
    if (pa < 0) return false;
    // Check the whole range is writable before the first byte lands, so the store is all-or-nothing.
    if (!st.ram.contains(pa, 1) && st.bus.findRegion(pa, 1) === undefined) {
      fault(st, FAULT_ACCESS, ACCESS_STORE, l, h);
      return false;
    }
    pas.push(pa);
  }
  for (let i = 0; i < size; i++) {
    const byte = i < 4 ? (vlo >>> (8 * i)) & 0xff : (vhi >>> (8 * (i - 4))) & 0xff;
    physWrite(st, pas[i], 1, byte, 0);
  }
  return true;
}

/**
 * Translate for an atomic memory operation (needs both read and write permission; faults are store/AMO
 * faults, spec 3.7.1). Returns the physical address, or -1 after raising the trap.
 */
export function translateAmo(st: HartState, lo: number, hi: number, size: number): number {
  const pa = translateOrTrap(st, lo, hi, ACCESS_STORE, size);
  if (pa >= 0 && !pmpAllows(st, pa, size, ACCESS_LOAD, st.dataPriv())) {
    fault(st, FAULT_ACCESS, ACCESS_STORE, lo, hi);
    return -1;
  }
  return pa;
}

export { physRead, physWrite };

/** refillFetch results. */
export const FETCH_TRAPPED = 0;
export const FETCH_CACHED = 1;
export const FETCH_DEVICE = 2;

/**
 * Refill the fetch cache for st.pc. Returns FETCH_CACHED when the page is RAM (the caller retries the fast
 * path), FETCH_TRAPPED after raising a fetch fault, or FETCH_DEVICE with the instruction bits in st.tmpLo
 * when the code sits in a device region such as the boot ROM (fetched through the bus, never cached).
 * With `readDevice` false, FETCH_DEVICE comes without the bus read (st.tmpLo is not set).
 */
export function refillFetch(st: HartState, readDevice = true): number {
  const pc = st.pc;
  const lo = pc | 0;
  const hi = Math.floor(pc / TWO_POW_32) | 0;
  const vpage = pc - (((pc % 4096) + 4096) % 4096);
  // The fetch TLB saves a page walk on every jump between code pages.
  const tlb = st.tlbSets[st.priv === PRIV_M ? 2 : st.priv === PRIV_S ? 1 : 0].fetch;
  const ti = (lo >>> 12) & 255;
  if (tlb.tagLo[ti] === (lo & ~0xfff) && tlb.tagHi[ti] === hi) {
    st.fetchPageStart = vpage;
    st.fetchPageEnd = vpage + 4096;
    st.fetchPageOff = tlb.off[ti];
    return FETCH_CACHED;
  }
  const pa = translateOrTrap(st, lo, hi, ACCESS_FETCH, 2);
  if (pa < 0) return FETCH_TRAPPED;
  const page = pa - (pa % 4096);
  if (st.ram.contains(page, 4096) && pmpAllows(st, page, 4096, ACCESS_FETCH, st.priv)) {
    if (st.lastLeafLevel > 0) st.superpageCached = true;
    tlb.fill(lo, hi, page - st.ram.base);
    st.fetchPageStart = vpage;
    st.fetchPageEnd = vpage + 4096;
    st.fetchPageOff = page - st.ram.base;
    return FETCH_CACHED;
  }
  // A translator only asks where the code is: fetching from a device has side effects, so the
  // interpreter does it (once).
  if (!readDevice) return FETCH_DEVICE;
  const h1 = st.bus.read(pa, 2);
  if (h1 < 0) {
    fault(st, FAULT_ACCESS, ACCESS_FETCH, lo, hi);
    return FETCH_TRAPPED;
  }
  if ((h1 & 3) !== 3) {
    st.tmpLo = h1;
    return FETCH_DEVICE;
  }
  const next = pc + 2;
  const pa2 =
    (pa + 2) % 4096 === 0
      ? translateOrTrap(st, next | 0, Math.floor(next / TWO_POW_32) | 0, ACCESS_FETCH, 2)
      : pa + 2;
  if (pa2 < 0) return FETCH_TRAPPED;
  if (!pmpAllows(st, pa2, 2, ACCESS_FETCH, st.priv)) {
    fault(st, FAULT_ACCESS, ACCESS_FETCH, next | 0, Math.floor(next / TWO_POW_32) | 0);
    return FETCH_TRAPPED;
  }
  const h2 = st.bus.read(pa2, 2);
  if (h2 < 0) {
    fault(st, FAULT_ACCESS, ACCESS_FETCH, next | 0, Math.floor(next / TWO_POW_32) | 0);
    return FETCH_TRAPPED;
  }
  st.tmpLo = h1 | (h2 << 16);
  return FETCH_DEVICE;
}

/**
 * Fetch the upper 16 bits of a 32-bit instruction that starts in the last halfword of a page: translate the
 * next page separately (a fault there reports the address of that page, spec 3.7.1 on fetch faults).
 * Returns the halfword, or -1 after raising a trap.
 */
export function fetchHalfNextPage(st: HartState, nextVa: number): number {
  const lo = nextVa | 0;
  const hi = Math.floor(nextVa / TWO_POW_32) | 0;
  const pa = translateOrTrap(st, lo, hi, ACCESS_FETCH, 2);
  if (pa < 0) return -1;
  if (!st.ram.contains(pa, 2)) {
    fault(st, FAULT_ACCESS, ACCESS_FETCH, lo, hi);
    return -1;
  }
  return st.ram.u16[(pa - st.ram.base) >>> 1];
}
