/** SBI Timer extension (SBI spec v2.0 chapter 6), backed by the hart's Sstc `stimecmp`. */
import { CSR_STIMECMP } from "../../isa/riscv/csr-names.js";
import { ret, type SbiCall, type SbiExtension, type SbiRet } from "./sbi-call.js";
import { SBI_ERR_NOT_SUPPORTED, SBI_EXT_TIME } from "./sbi-spec.js";

export const TIME_SET_TIMER = 0;

/**
 * 6.1 sbi_set_timer: program the next event and clear any pending timer interrupt. Writing
 * stimecmp does both (Sstc spec: STIP reflects the comparison), so no M-mode timer is involved.
 */
export function programTimer(c: SbiCall, stimeValue: bigint): void {
  c.hart.writeCsr(CSR_STIMECMP, stimeValue);
}

export class SbiTime implements SbiExtension {
  readonly name = "time";
  readonly eids = [SBI_EXT_TIME];

  call(c: SbiCall): SbiRet {
    if (c.fid !== TIME_SET_TIMER) return ret(SBI_ERR_NOT_SUPPORTED);
    programTimer(c, c.args[0]);
    return ret(0);
  }
}
