/** SBI Debug Console extension (SBI spec v2.0 chapter 12): console write/read through guest-physical buffers. */
import { argNumber, ret, type SbiCall, type SbiExtension, type SbiRet } from "./sbi-call.js";
import { SBI_ERR_INVALID_PARAM, SBI_ERR_NOT_SUPPORTED, SBI_EXT_DBCN } from "./sbi-spec.js";

export const DBCN_CONSOLE_WRITE = 0;
export const DBCN_CONSOLE_READ = 1;
export const DBCN_CONSOLE_WRITE_BYTE = 2;
/** 12.1 allows short writes; capping the length bounds the work one guest call can cause. */
const MAX_CHUNK = 64 * 1024;

export class SbiDbcn implements SbiExtension {
  readonly name = "dbcn";
  readonly eids = [SBI_EXT_DBCN];

  call(c: SbiCall): SbiRet {
    switch (c.fid) {
      case DBCN_CONSOLE_WRITE:
      case DBCN_CONSOLE_READ: {
        // 12.1/12.2: a physical buffer given as num_bytes, base_addr_lo, base_addr_hi. The address is
        // base_addr_hi << XLEN | base_addr_lo, so on RV64 (XLEN = 64) a non-zero base_addr_hi names memory
        // beyond 2^64, which is never valid; Linux passes 0 there (arch/riscv/kernel/sbi.c).
        if (c.args[2] !== 0n) return ret(SBI_ERR_INVALID_PARAM);
        const n = Math.min(argNumber(c.args[0]), MAX_CHUNK);
        const addr = argNumber(c.args[1]);
        if (n < 0 || addr < 0) return ret(SBI_ERR_INVALID_PARAM);
        const buf = c.platform.physSlice(addr, n);
        if (buf === null) return ret(SBI_ERR_INVALID_PARAM);
        if (c.fid === DBCN_CONSOLE_WRITE) {
          c.platform.consoleWrite(buf.slice());
          return ret(0, BigInt(n));
        }
        let got = 0;
        while (got < n) {
          const b = c.platform.consoleRead();
          if (b < 0) break;
          buf[got++] = b;
        }
        return ret(0, BigInt(got));
      }
      case DBCN_CONSOLE_WRITE_BYTE:
        c.platform.consoleWrite(new Uint8Array([Number(c.args[0] & 0xffn)]));
        return ret(0);
      default:
        return ret(SBI_ERR_NOT_SUPPORTED);
    }
  }
}
