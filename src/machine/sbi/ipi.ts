/** SBI IPI extension (SBI spec v2.0 chapter 7): supervisor software interrupts to other harts. */
import { decodeHartMask } from "./hart-mask.js";
import { ret, type SbiCall, type SbiExtension, type SbiHart, type SbiRet } from "./sbi-call.js";
import { SBI_ERR_NOT_SUPPORTED, SBI_EXT_IPI } from "./sbi-spec.js";

export const IPI_SEND_IPI = 0;
/** Privileged spec 3.1.9: mip.SSIP (bit 1) is the software-writable supervisor software interrupt. */
const IRQ_SSI = 1;

/**
 * Raise SSIP on the target. It is the software-writable bit (not a device line) because the kernel
 * acknowledges an IPI by clearing sip.SSIP itself (arch/riscv/kernel/sbi.c, sbi_ipi_clear). A
 * read-modify-write of mip would also latch the PLIC's SEIP level into software, so it is not used.
 */
export function raiseSsip(h: SbiHart): void {
  h.setSoftwarePending(IRQ_SSI, true);
}

export function clearSsip(h: SbiHart): void {
  h.setSoftwarePending(IRQ_SSI, false);
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
