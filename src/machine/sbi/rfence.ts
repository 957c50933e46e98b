/** SBI RFENCE extension (SBI spec v2.0 chapter 8): remote FENCE.I and SFENCE.VMA. */
import { decodeHartMask } from "./hart-mask.js";
import { ret, type SbiCall, type SbiExtension, type SbiRet } from "./sbi-call.js";
import { SBI_ERR_NOT_SUPPORTED, SBI_EXT_RFENCE } from "./sbi-spec.js";

export const RFENCE_REMOTE_FENCE_I = 0;
export const RFENCE_REMOTE_SFENCE_VMA = 1;
export const RFENCE_REMOTE_SFENCE_VMA_ASID = 2;

export class SbiRfence implements SbiExtension {
  readonly name = "rfence";
  readonly eids = [SBI_EXT_RFENCE];

  call(c: SbiCall): SbiRet {
    // 8.4-8.7 (HFENCE.*) need the H extension; without it they are SBI_ERR_NOT_SUPPORTED.
    if (c.fid > RFENCE_REMOTE_SFENCE_VMA_ASID) return ret(SBI_ERR_NOT_SUPPORTED);
    const targets = decodeHartMask(c.args[0], c.args[1], c.platform.hartCount);
    if (typeof targets === "number") return ret(targets);
    // The interpreter's TLB and any decoded-code cache are flushed whole: a superset of every fence
    // kind (ranges and ASIDs included) is always a correct implementation of a narrower one.
    for (const id of targets) c.platform.hart(id)?.flushTlb();
    return ret(0);
  }
}
