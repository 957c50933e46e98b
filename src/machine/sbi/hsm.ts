/** SBI Hart State Management extension (SBI spec v2.0 chapter 9): start, stop, status and suspend of harts. */
import { MSTATUS_SIE, PRIV_S } from "../../cpu/csr-bits.js";
import { CSR_SATP, CSR_SSTATUS } from "../../isa/riscv/csr-names.js";
import { argNumber, REG_A0, ret, type SbiCall, type SbiExtension, type SbiRet } from "./sbi-call.js";
import {
  SBI_ERR_ALREADY_AVAILABLE,
  SBI_ERR_INVALID_ADDRESS,
  SBI_ERR_INVALID_PARAM,
  SBI_ERR_NOT_SUPPORTED,
  SBI_EXT_HSM,
} from "./sbi-spec.js";

export const HSM_HART_START = 0;
export const HSM_HART_STOP = 1;
export const HSM_HART_GET_STATUS = 2;
export const HSM_HART_SUSPEND = 3;
/** Chapter 9, table 28: hart states. */
export const HSM_STATE_STARTED = 0;
export const HSM_STATE_STOPPED = 1;
/** 9.4, table 30: the default retentive suspend type; it behaves like WFI. */
export const HSM_SUSPEND_RETENTIVE = 0;

export class SbiHsm implements SbiExtension {
  readonly name = "hsm";
  readonly eids = [SBI_EXT_HSM];

  call(c: SbiCall): SbiRet {
    switch (c.fid) {
      case HSM_HART_START:
        return this.start(c);
      case HSM_HART_STOP:
        // 9.2: the calling hart stops; on success the call does not return.
        c.hart.stopped = true;
        c.platform.kick();
        return { error: 0, noReturn: true };
      case HSM_HART_GET_STATUS: {
        const h = c.platform.hart(argNumber(c.args[0]));
        if (!h) return ret(SBI_ERR_INVALID_PARAM);
        return ret(0, BigInt(h.stopped ? HSM_STATE_STOPPED : HSM_STATE_STARTED));
      }
      case HSM_HART_SUSPEND: {
        const type = c.args[0];
        if (type === BigInt(HSM_SUSPEND_RETENTIVE)) {
          // Retentive suspend resumes after the call, like WFI, once an interrupt is pending.
          c.hart.waitingForInterrupt = true;
          return ret(0);
        }
        // Non-retentive suspend (0x80000000) is only used when the DT declares idle states; we declare none.
        if (type === 0x80000000n || (type >= 0x10000000n && type <= 0x7fffffffn) || type >= 0x90000000n) {
          return ret(SBI_ERR_NOT_SUPPORTED);
        }
        return ret(SBI_ERR_INVALID_PARAM);
      }
      default:
        return ret(SBI_ERR_NOT_SUPPORTED);
    }
  }

  /**
   * 9.1 sbi_hart_start: the target begins in S-mode at start_addr with a0 = hartid, a1 = opaque,
   * satp = 0 and sstatus.SIE = 0 (table 29 lists the register state).
   */
  private start(c: SbiCall): SbiRet {
    const id = argNumber(c.args[0]);
    const h = c.platform.hart(id);
    if (!h) return ret(SBI_ERR_INVALID_PARAM);
    const addr = argNumber(c.args[1]);
    if (addr < 0 || c.platform.physSlice(addr, 4) === null || addr % 2 !== 0)
      return ret(SBI_ERR_INVALID_ADDRESS);
    if (!h.stopped) return ret(SBI_ERR_ALREADY_AVAILABLE);
    h.setX(REG_A0, BigInt(id));
    h.setX(REG_A0 + 1, c.args[2]);
    h.writeCsr(CSR_SATP, 0n);
    h.writeCsr(CSR_SSTATUS, (h.readCsr(CSR_SSTATUS) ?? 0n) & ~BigInt(MSTATUS_SIE));
    h.setPrivilege(PRIV_S);
    h.pc = addr;
    h.waitingForInterrupt = false;
    h.flushTlb();
    h.stopped = false;
    c.platform.kick();
    return ret(0);
  }
}
