/** The last minutes of each VM's stats, sampled while a page shows it; rates come from counter deltas. */
import type { VmStats } from "../api/messages.js";

/** Keep this many samples per VM (one a second: five minutes). */
export const HISTORY_SAMPLES = 300;

export interface Sample {
  /** ms, from performance.now(). */
  t: number;
  cpuPercent: number;
  instructionsPerSec: number;
  diskBytesPerSec: number;
  netBytesPerSec: number;
  rssBytes: number;
}

interface Series {
  samples: Sample[];
  last?: { t: number; stats: VmStats };
}

const byVm = new Map<string, Series>();

/** Add one reading; disk and network rates are the change of the byte counters since the previous one. */
export function record(stats: VmStats, t: number = performance.now()): Sample {
  let s = byVm.get(stats.name);
  if (!s) {
    s = { samples: [] };
    byVm.set(stats.name, s);
  }
  const prev = s.last;
  const dt = prev ? (t - prev.t) / 1000 : 0;
  // A restart resets the counters; a negative delta is then no rate at all.
  const rate = (now: number, before: number) => (dt > 0 && now >= before ? (now - before) / dt : 0);
  const sample: Sample = {
    t,
    cpuPercent: stats.hostCpuPercent,
    instructionsPerSec: stats.instructionsPerSec,
    diskBytesPerSec: prev
      ? rate(
          stats.disk.readBytes + stats.disk.writeBytes,
          prev.stats.disk.readBytes + prev.stats.disk.writeBytes,
        )
      : 0,
    netBytesPerSec: prev
      ? rate(stats.net.rxBytes + stats.net.txBytes, prev.stats.net.rxBytes + prev.stats.net.txBytes)
      : 0,
    rssBytes: stats.rssBytes,
  };
  s.last = { t, stats };
  s.samples.push(sample);
  if (s.samples.length > HISTORY_SAMPLES) s.samples.splice(0, s.samples.length - HISTORY_SAMPLES);
  return sample;
}

export function history(name: string): Sample[] {
  return byVm.get(name)?.samples ?? [];
}

export function forget(name: string): void {
  byVm.delete(name);
}
