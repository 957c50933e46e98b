/** SBI IPI extension (SBI spec v2.0 chapter 7): supervisor software interrupts to other harts. */
import { decodeHartMask } from "./hart-mask.js";
import { ret, type SbiCall, type SbiExtension, type SbiHart, type SbiRet } from "./sbi-call.js";
import { SBI_ERR_NOT_SUPPORTED, SBI_EXT_IPI } from "./sbi-spec.js";

export const IPI_SEND_IPI = 0;
const CSR_MIP = 0x344;
/** Privileged spec 3.1.9: mip.SSIP (bit 1) is the software-writable supervisor software interrupt. */
const MIP_SSIP = 2n;

/**
 * Raise SSIP on the target. It goes through the CSR (not a device line) because the kernel
 * acknowledges an IPI by clearing sip.SSIP itself (arch/riscv/kernel/sbi.c, sbi_ipi_clear).
 */
export function raiseSsip(h: SbiHart): void {
  h.writeCsr(CSR_MIP, (h.readCsr(CSR_MIP) ?? 0n) | MIP_SSIP);
}

export function clearSsip(h: SbiHart): void {
  h.writeCsr(CSR_MIP, (h.readCsr(CSR_MIP) ?? 0n) & ~MIP_SSIP);
}

export class SbiIpi implements SbiExtension {
  readonly name = "ipi";
  readonly eids = [SBI_EXT_IPI];

  call(c: SbiCall): SbiRet {
    if (c.fid !== IPI_SEND_IPI) return ret(SBI_ERR_NOT_SUPPORTED);
    const targets = decodeHartMask(c.args[0], c.args[1], c.platform.hartCount);
    if (typeof targets === "number") return ret(targets);
    for (const id of targets) {
      const h = c.platform.hart(id);
      if (h) raiseSsip(h);
    }
    c.platform.kick();
    return ret(0);
  }
}
