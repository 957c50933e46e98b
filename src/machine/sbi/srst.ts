/** SBI System Reset extension (SBI spec v2.0 chapter 10): shutdown and reboot. */
import { ret, type SbiCall, type SbiExtension, type SbiRet } from "./sbi-call.js";
import { SBI_ERR_INVALID_PARAM, SBI_ERR_NOT_SUPPORTED, SBI_EXT_SRST } from "./sbi-spec.js";

export const SRST_SYSTEM_RESET = 0;
/** 10.1, table 32: reset types. */
export const SRST_TYPE_SHUTDOWN = 0;
export const SRST_TYPE_COLD_REBOOT = 1;
export const SRST_TYPE_WARM_REBOOT = 2;

export class SbiSrst implements SbiExtension {
  readonly name = "srst";
  readonly eids = [SBI_EXT_SRST];

  call(c: SbiCall): SbiRet {
    if (c.fid !== SRST_SYSTEM_RESET) return ret(SBI_ERR_NOT_SUPPORTED);
    const type = c.args[0];
    const reason = c.args[1];
    // Table 33: reasons 0 (none) and 1 (system failure); 2..0xDFFFFFFF are reserved.
    if (reason >= 2n && reason <= 0xdfffffffn) return ret(SBI_ERR_INVALID_PARAM);
    if (reason > 0xffffffffn) return ret(SBI_ERR_INVALID_PARAM);
    const kind =
      type === BigInt(SRST_TYPE_SHUTDOWN)
        ? "shutdown"
        : type === BigInt(SRST_TYPE_COLD_REBOOT)
          ? "cold-reboot"
          : type === BigInt(SRST_TYPE_WARM_REBOOT)
            ? "warm-reboot"
            : null;
    if (kind === null) {
      // Table 32: 0xF0000000.. are vendor types (not supported); everything else is reserved.
      return ret(type >= 0xf0000000n && type <= 0xffffffffn ? SBI_ERR_NOT_SUPPORTED : SBI_ERR_INVALID_PARAM);
    }
    c.platform.systemReset(kind, Number(reason));
    return { error: 0, noReturn: true };
  }
}
