/** The built-in SBI implementation: dispatches S-mode ecalls to the extension handlers (SBI spec v2.0 ch. 3). */
import { SbiBase } from "./base.js";
import { SbiDbcn } from "./dbcn.js";
import { SbiHsm } from "./hsm.js";
import { SbiIpi } from "./ipi.js";
import { SbiLegacy } from "./legacy.js";
import { SbiRfence } from "./rfence.js";
import { REG_A0, type SbiExtension, type SbiHart, type SbiPlatform, type SbiRet } from "./sbi-call.js";
import { SBI_ERR_FAILED, SBI_ERR_NOT_SUPPORTED } from "./sbi-spec.js";
import { SbiSrst } from "./srst.js";
import { SbiTime } from "./time.js";

const MASK64 = (1n << 64n) - 1n;

/** The paravirtual hypercall interface: the guest kernel's ecalls are handled here, in the host. */
export class BuiltinSbi {
  private readonly byEid = new Map<number, SbiExtension>();
  /** Per-EID call counts, for diagnostics and tests. */
  readonly calls = new Map<number, number>();

  constructor(private readonly platform: SbiPlatform) {
    const exts: SbiExtension[] = [
      new SbiBase((eid) => this.byEid.has(eid)),
      new SbiTime(),
      new SbiIpi(),
      new SbiRfence(),
      new SbiHsm(),
      new SbiSrst(),
      new SbiLegacy(),
      new SbiDbcn(),
    ];
    for (const e of exts) for (const eid of e.eids) this.byEid.set(eid, e);
  }

  /**
   * The hart's ecall hook. Chapter 3: a7 = EID, a6 = FID, a0-a5 arguments; a0 = error and a1 = value
   * on return. Every ecall from S-mode is an SBI call, so this always reports it handled.
   */
  handle(hart: SbiHart): boolean {
    const eid = Number(hart.getX(REG_A0 + 7) & 0xffffffffn);
    const fid = Number(hart.getX(REG_A0 + 6) & 0xffffffffn);
    const args: bigint[] = [];
    for (let i = 0; i < 6; i++) args.push(hart.getX(REG_A0 + i) & MASK64);
    this.calls.set(eid, (this.calls.get(eid) ?? 0) + 1);
    const ext = this.byEid.get(eid);
    if (!ext) {
      hart.setX(REG_A0, BigInt(SBI_ERR_NOT_SUPPORTED));
      return true;
    }
    let r: SbiRet;
    try {
      r = ext.call({ hart, platform: this.platform, eid, fid, args });
    } catch {
      // The guest is hostile and every handler bounds-checks its arguments, but a host-side fault
      // (a console backend that throws, say) must still not unwind into the CPU loop: the caller gets
      // SBI_ERR_FAILED (chapter 3, table 1) and the machine keeps running.
      r = { error: SBI_ERR_FAILED };
    }
    if (r.noReturn) return true;
    hart.setX(REG_A0, BigInt(r.error));
    if (r.value !== undefined) hart.setX(REG_A0 + 1, r.value);
    return true;
  }
}
