/**
 * Physical memory protection (RISC-V privileged spec 1.12, section 3.7): 64 entries whose ranges are
 * decoded once per CSR write, and the access check applied on every slow-path access and TLB fill.
 */
import { TWO_POW_32 } from "../base/u64.js";
import { ACCESS_FETCH, ACCESS_LOAD, PRIV_M } from "./csr-bits.js";
import type { HartState } from "./hart-state.js";

export const PMP_ENTRIES = 64;
const PMP_R = 1;
const PMP_W = 2;
const PMP_X = 4;
const PMP_L = 0x80;
const A_OFF = 0;
const A_TOR = 1;
const A_NA4 = 2;

/** Number of trailing one bits of an int32 (32 when all ones). */
function trailingOnes(v: number): number {
  const z = ~v;
  if (z === 0) return 32;
  return 31 - Math.clz32(z & -z);
}

/** pmpaddr i as a number (bits 55:2 of an address; exact below 2^53, which covers any real RAM). */
function addrNum(st: HartState, i: number): number {
  return (st.pmpaddrHi[i] & 0x3fffff) * TWO_POW_32 + (st.pmpaddrLo[i] >>> 0);
}

/**
 * Decode every entry's byte range [start, end) after a pmpcfg/pmpaddr write (section 3.7.1: TOR uses
 * the previous entry's address as the bottom, NA4 is 4 bytes, NAPOT encodes its size in trailing ones).
 */
export function pmpRecompute(st: HartState): void {
  let active = 0;
  let locked = false;
  for (let i = 0; i < PMP_ENTRIES; i++) {
    const cfg = st.pmpcfg[i];
    const a = (cfg >>> 3) & 3;
    let start = 0;
    let end = 0;
    if (a === A_TOR) {
      start = i === 0 ? 0 : addrNum(st, i - 1) * 4;
      end = addrNum(st, i) * 4;
    } else if (a === A_NA4) {
      start = addrNum(st, i) * 4;
      end = start + 4;
    } else if (a !== A_OFF) {
      const lo = st.pmpaddrLo[i];
      const t = lo === -1 ? 32 + Math.min(22, trailingOnes(st.pmpaddrHi[i] | ~0x3fffff)) : trailingOnes(lo);
      const size = 2 ** (t + 3);
      const value = addrNum(st, i);
      start = t >= 54 ? 0 : (value - (2 ** t - 1)) * 4;
      end = start + size;
    }
    st.pmpStart[i] = start;
    st.pmpEnd[i] = end;
    if (a !== A_OFF) active = i + 1;
    if ((cfg & PMP_L) !== 0) locked = true;
  }
  st.pmpActive = active;
  st.pmpLocked = locked;
}

/**
 * May an access of `len` bytes at physical `pa` proceed? The lowest-numbered entry matching any byte
 * decides, and it must contain every byte. M-mode is checked only against locked entries and passes when
 * none matches; S and U fail when none matches, since entries are implemented (section 3.7.1).
 */
export function pmpAllows(st: HartState, pa: number, len: number, access: number, priv: number): boolean {
  if (priv === PRIV_M && !st.pmpLocked) return true;
  const end = pa + len;
  const n = st.pmpActive;
  for (let i = 0; i < n; i++) {
    const s = st.pmpStart[i];
    const e = st.pmpEnd[i];
    if (end <= s || pa >= e || e <= s) continue;
    if (pa < s || end > e) return false;
    const cfg = st.pmpcfg[i];
    if (priv === PRIV_M && (cfg & PMP_L) === 0) return true;
    const need = access === ACCESS_FETCH ? PMP_X : access === ACCESS_LOAD ? PMP_R : PMP_W;
    return (cfg & need) !== 0;
  }
  return priv === PRIV_M;
}
