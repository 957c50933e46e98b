/**
 * Linux KSM (kernel samepage merging) as the daemon reports it: whether the host merges at all
 * (/sys/kernel/mm/ksm/run) and what it saves for one VM process (/proc/PID/ksm_stat, Linux 6.1+;
 * Documentation/admin-guide/mm/ksm.rst). The VM process marks its guest RAM MADV_MERGEABLE; merging
 * happens only while the host runs ksmd.
 */
import { readFileSync } from "node:fs";

const KSM_DIR = "/sys/kernel/mm/ksm";
/** What to tell the user when KSM is off. */
export const KSM_HOW_TO_ENABLE = "echo 1 > /sys/kernel/mm/ksm/run (as root)";

export interface KsmStatus {
  /** ksmd's mode: 0 stopped, 1 running, 2 stopped and unmerged; null when the host has no KSM. */
  hostRun: number | null;
  /** Pages of this process merged with an identical page (ksm_merging_pages). */
  mergingPages: number;
  /** Bytes this process saves by merging, less KSM's own overhead (ksm_process_profit). */
  profitBytes: number;
  /** A sentence for the user when merging cannot happen, with the fix. */
  note?: string;
}

function readNumber(path: string): number | null {
  try {
    const n = Number(readFileSync(path, "utf8").trim());
    return Number.isFinite(n) ? n : null;
  } catch {
    return null;
  }
}

/** KSM's host-wide counters (pages_shared: distinct merged pages; pages_sharing: pages mapped to them). */
export function hostKsm(): { run: number | null; pagesShared: number; pagesSharing: number } {
  return {
    run: readNumber(`${KSM_DIR}/run`),
    pagesShared: readNumber(`${KSM_DIR}/pages_shared`) ?? 0,
    pagesSharing: readNumber(`${KSM_DIR}/pages_sharing`) ?? 0,
  };
}

/** Parse /proc/PID/ksm_stat ("name value" lines). */
export function parseKsmStat(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split("\n")) {
    const [k, v] = line.trim().split(/\s+/);
    const n = Number(v);
    if (k && Number.isFinite(n)) out[k] = n;
  }
  return out;
}

/** KSM as it stands for process `pid`. */
export function ksmStatus(pid: number | undefined): KsmStatus {
  const run = readNumber(`${KSM_DIR}/run`);
  let stat: Record<string, number> = {};
  if (pid !== undefined) {
    try {
      stat = parseKsmStat(readFileSync(`/proc/${pid}/ksm_stat`, "utf8"));
    } catch {
      // Kernels before 6.1 have no ksm_stat; the host-wide counters still tell whether KSM runs.
    }
  }
  const s: KsmStatus = {
    hostRun: run,
    mergingPages: stat.ksm_merging_pages ?? 0,
    profitBytes: Math.max(0, stat.ksm_process_profit ?? 0),
  };
  if (run === null) s.note = "this host kernel has no KSM (CONFIG_KSM): identical pages are not shared";
  else if (run !== 1)
    s.note = `KSM is off on this host: identical guest pages are not shared; enable it with ${KSM_HOW_TO_ENABLE}`;
  return s;
}
