/** SBI legacy extensions (SBI spec v2.0 chapter 5, EIDs 0x00-0x08): timer, console, IPI, fences, shutdown. */
import { clearSsip, raiseSsip } from "./ipi.js";
import type { SbiCall, SbiExtension, SbiRet } from "./sbi-call.js";
import { SBI_ERR_NOT_SUPPORTED } from "./sbi-spec.js";
import { programTimer } from "./time.js";

export const LEGACY_SET_TIMER = 0x00;
export const LEGACY_CONSOLE_PUTCHAR = 0x01;
export const LEGACY_CONSOLE_GETCHAR = 0x02;
export const LEGACY_CLEAR_IPI = 0x03;
export const LEGACY_SEND_IPI = 0x04;
export const LEGACY_REMOTE_FENCE_I = 0x05;
export const LEGACY_REMOTE_SFENCE_VMA = 0x06;
export const LEGACY_REMOTE_SFENCE_VMA_ASID = 0x07;
export const LEGACY_SHUTDOWN = 0x08;

/** Chapter 5: legacy calls return a single value in a0 and leave a1 alone. */
const legacyRet = (v: number): SbiRet => ({ error: v });

export class SbiLegacy implements SbiExtension {
  readonly name = "legacy";
  readonly eids = [0, 1, 2, 3, 4, 5, 6, 7, 8];

  call(c: SbiCall): SbiRet {
    switch (c.eid) {
      case LEGACY_SET_TIMER:
        programTimer(c, c.args[0]);
        return legacyRet(0);
      case LEGACY_CONSOLE_PUTCHAR:
        c.platform.consoleWrite(new Uint8Array([Number(c.args[0] & 0xffn)]));
        return legacyRet(0);
      case LEGACY_CONSOLE_GETCHAR:
        // 5.3: the byte, or -1 when no input is waiting.
        return legacyRet(c.platform.consoleRead());
      case LEGACY_CLEAR_IPI:
        clearSsip(c.hart);
        return legacyRet(0);
      case LEGACY_SEND_IPI:
      case LEGACY_REMOTE_FENCE_I:
      case LEGACY_REMOTE_SFENCE_VMA:
      case LEGACY_REMOTE_SFENCE_VMA_ASID:
        // 5.5-5.8 pass the hart mask through an S-mode *virtual* pointer. Acting on every hart is a
        // superset that is always correct for fences, and a spurious IPI is ignored by the kernel.
        for (let i = 0; i < c.platform.hartCount; i++) {
          const h = c.platform.hart(i);
          if (!h) continue;
          if (c.eid === LEGACY_SEND_IPI) raiseSsip(h);
          else h.flushTlb();
        }
        c.platform.kick();
        return legacyRet(0);
      case LEGACY_SHUTDOWN:
        c.platform.systemReset("shutdown", 0);
        return { error: 0, noReturn: true };
      default:
        return legacyRet(SBI_ERR_NOT_SUPPORTED);
    }
  }
}
