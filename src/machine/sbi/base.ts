/** SBI Base extension (SBI spec v2.0 chapter 4): spec version, implementation identity, extension probing. */
import { argNumber, ret, type SbiCall, type SbiExtension, type SbiRet } from "./sbi-call.js";
import {
  SBI_ERR_NOT_SUPPORTED,
  SBI_EXT_BASE,
  SBI_IMPL_ID_TVISOR,
  SBI_IMPL_VERSION,
  SBI_SPEC_VERSION,
} from "./sbi-spec.js";

/** Chapter 4, table 12: Base function IDs. */
export const BASE_GET_SPEC_VERSION = 0;
export const BASE_GET_IMPL_ID = 1;
export const BASE_GET_IMPL_VERSION = 2;
export const BASE_PROBE_EXTENSION = 3;
export const BASE_GET_MVENDORID = 4;
export const BASE_GET_MARCHID = 5;
export const BASE_GET_MIMPID = 6;

export class SbiBase implements SbiExtension {
  readonly name = "base";
  readonly eids = [SBI_EXT_BASE];

  /** `probe` answers whether an EID is implemented (the dispatcher knows every registered extension). */
  constructor(private readonly probe: (eid: number) => boolean) {}

  call(c: SbiCall): SbiRet {
    switch (c.fid) {
      case BASE_GET_SPEC_VERSION:
        return ret(0, BigInt(SBI_SPEC_VERSION));
      case BASE_GET_IMPL_ID:
        return ret(0, BigInt(SBI_IMPL_ID_TVISOR));
      case BASE_GET_IMPL_VERSION:
        return ret(0, BigInt(SBI_IMPL_VERSION));
      case BASE_PROBE_EXTENSION: {
        // 4.4: 0 when unavailable, 1 (or an extension-specific non-zero value) when available.
        const eid = argNumber(c.args[0]);
        return ret(0, eid >= 0 && eid <= 0xffffffff && this.probe(eid) ? 1n : 0n);
      }
      // 4.5-4.7: the values of mvendorid/marchid/mimpid; 0 is the legal "not implemented" value.
      case BASE_GET_MVENDORID:
      case BASE_GET_MARCHID:
      case BASE_GET_MIMPID:
        return ret(0, 0n);
      default:
        return ret(SBI_ERR_NOT_SUPPORTED);
    }
  }
}
