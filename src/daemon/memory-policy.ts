/**
 * The host-wide memory policy: when the host runs short of memory, take it back from idle VMs with
 * their balloons; when it has plenty again, give it back.
 *
 *   - short:  MemAvailable (/proc/meminfo) below LOW_FRACTION of MemTotal. Each idle VM (host CPU under
 *             IDLE_CPU_PERCENT for the last IDLE_SAMPLES seconds) with a balloon and guest statistics is
 *             asked to keep what it uses plus HEADROOM (RAM − balloon − guest MemAvailable), never
 *             less than MIN_KEEP, and never more than its own target (--mem-target) or its RAM.
 *   - plenty: MemAvailable above HIGH_FRACTION of MemTotal: VMs the policy squeezed get their own target
 *             back (--mem-target, else all of their RAM). Busy VMs are never squeezed.
 * The gap between the two thresholds keeps the policy from flapping. Linux's own deflate-on-OOM still
 * lets a squeezed guest take pages back when it runs out.
 */
export const LOW_FRACTION = 0.1;
export const HIGH_FRACTION = 0.2;
export const IDLE_CPU_PERCENT = 5;
export const IDLE_SAMPLES = 10;
const MiB = 1024 * 1024;
export const HEADROOM = 32 * MiB;
export const MIN_KEEP = 64 * MiB;

export interface PolicyVm {
  name: string;
  ramBytes: number;
  /** The VM's own target (definition's memTargetBytes), or its RAM. */
  ownTargetBytes: number;
  /** The guest's MemAvailable from the balloon's statistics; null before any. */
  guestAvailableBytes: number | null;
  /** Memory in its balloon now (counted as used by the guest: it negotiated DEFLATE_ON_OOM). */
  balloonBytes: number;
  /** The memory it may keep now (RAM − balloon target). */
  currentKeepBytes: number;
  /** Host CPU percent of the last samples, oldest first. */
  cpuHistory: number[];
  /** Whether the policy has squeezed it (and not yet given back). */
  squeezed: boolean;
}

export interface PolicyDecision {
  name: string;
  /** The memory the guest may keep from now on. */
  keepBytes: number;
  squeezed: boolean;
}

/** /proc/meminfo's MemTotal and MemAvailable, in bytes. */
export function parseMeminfo(text: string): { total: number; available: number } | null {
  const kb = (k: string) => {
    const m = new RegExp(`^${k}:\\s+(\\d+) kB`, "m").exec(text);
    return m ? Number(m[1]) * 1024 : null;
  };
  const total = kb("MemTotal");
  const available = kb("MemAvailable");
  return total !== null && available !== null ? { total, available } : null;
}

function idle(vm: PolicyVm): boolean {
  const h = vm.cpuHistory;
  return h.length >= IDLE_SAMPLES && h.slice(-IDLE_SAMPLES).every((p) => p < IDLE_CPU_PERCENT);
}

/** What to change, given the host's memory and the VMs; VMs not listed stay as they are. */
export function decide(host: { total: number; available: number }, vms: PolicyVm[]): PolicyDecision[] {
  const out: PolicyDecision[] = [];
  if (host.available < host.total * LOW_FRACTION) {
    for (const vm of vms) {
      if (!idle(vm) || vm.guestAvailableBytes === null) continue;
      const used = Math.max(0, vm.ramBytes - vm.balloonBytes - vm.guestAvailableBytes);
      const keep = Math.min(vm.ownTargetBytes, Math.max(MIN_KEEP, used + HEADROOM));
      const rounded = Math.floor(keep / 4096) * 4096;
      // Only ever tighten while short; small changes are not worth a balloon round trip.
      if (rounded < vm.currentKeepBytes - 4 * MiB)
        out.push({ name: vm.name, keepBytes: rounded, squeezed: true });
    }
  } else if (host.available > host.total * HIGH_FRACTION) {
    for (const vm of vms)
      if (vm.squeezed) out.push({ name: vm.name, keepBytes: vm.ownTargetBytes, squeezed: false });
  }
  return out;
}
