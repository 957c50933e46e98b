/**
 * Per-VM CPU weight and cap, as Xen's credit scheduler has them: the weight is a VM's share of contended
 * CPU (default 256), the cap a ceiling in percent of one core even when the host is idle (0 = none).
 *
 * Enforced with the host's scheduler where the daemon may use it, as libvirt does (one cgroup per VM
 * under a per-daemon parent, removed when the VM or the daemon ends):
 *   - cgroup v2 (Documentation/admin-guide/cgroup-v2.rst): cpu.weight = weight × 100 / 256 (so the
 *     default maps to v2's default 100), cpu.max = "quota period";
 *   - cgroup v1 (Documentation/scheduler/sched-bwc.rst): cpu.shares = weight × 4 (the default maps to
 *     v1's default 1024), cpu.cfs_quota_us / cpu.cfs_period_us.
 * Otherwise ("pacing"): the weight becomes a nice value (CFS weighs nice levels ~1.25× apart) and the
 * cap is a duty cycle: the daemon stops the VM process (SIGSTOP) once it used its budget of the period
 * and continues it (SIGCONT) at the next period, as cpulimit does.
 */
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  writeFileSync,
} from "node:fs";
import { setPriority } from "node:os";
import { join } from "node:path";
import { DEFAULT_CPU_WEIGHT } from "../api/vm-spec.js";

/** CFS bandwidth period (the kernel's default, 100 ms). */
const PERIOD_US = 100_000;
/** Pacing period: short enough that a capped guest's console stays responsive. */
const PACE_PERIOD_MS = 100;

export type CpuMechanism = "cgroup-v2" | "cgroup-v1" | "pacing";

/** What the daemon can use on this host, found once at start. */
export interface CpuHost {
  mechanism: CpuMechanism;
  /** The per-daemon parent cgroup directory (cgroups only). */
  parent?: string;
  /** Why cgroups are not used (pacing only). */
  why?: string;
}

function tryWrite(path: string, value: string): boolean {
  try {
    writeFileSync(path, value);
    return true;
  } catch {
    return false;
  }
}

/**
 * Find a cgroup hierarchy with the cpu controller the daemon may write, and make the daemon's parent
 * group in it (`tvisor-<pid>`). `root` overrides /sys/fs/cgroup (tests).
 */
export function probeCpuHost(root = "/sys/fs/cgroup"): CpuHost {
  const name = `tvisor-${process.pid}`;
  // v2: a unified hierarchy whose cpu controller can be enabled for children.
  try {
    const controllers = readFileSync(join(root, "cgroup.controllers"), "utf8").split(/\s+/);
    if (controllers.includes("cpu")) {
      const own = readFileSync("/proc/self/cgroup", "utf8").match(/^0::(.*)$/m)?.[1] ?? "/";
      const base = join(root, own);
      sweepStaleGroups(base);
      const parent = join(base, name);
      mkdirSync(parent, { recursive: true });
      // The parent must delegate cpu to its children (cgroup-v2.rst "Top-down Constraint").
      if (
        tryWrite(join(base, "cgroup.subtree_control"), "+cpu") &&
        tryWrite(join(parent, "cgroup.subtree_control"), "+cpu")
      )
        return { mechanism: "cgroup-v2", parent };
      rmdirQuiet(parent);
    }
  } catch {
    // Not v2, or not allowed: try v1.
  }
  const v1 = join(root, "cpu");
  if (existsSync(join(v1, "cpu.shares")) && existsSync(join(v1, "cpu.cfs_quota_us"))) {
    sweepStaleGroups(v1);
    const parent = join(v1, name);
    try {
      mkdirSync(parent, { recursive: true });
      return { mechanism: "cgroup-v1", parent };
    } catch (e) {
      return { mechanism: "pacing", why: `cannot create a cgroup in ${v1}: ${(e as Error).message}` };
    }
  }
  return { mechanism: "pacing", why: "no writable cgroup cpu controller on this host" };
}

/**
 * Remove the groups of daemons that are gone. A daemon removes its own group when it shuts down, but
 * one that was killed (SIGKILL, a crash) cannot; its group and its VMs' empty groups would otherwise stay
 * in the host's hierarchy forever. A group whose pid is alive is left alone (it may be another daemon's),
 * and a group that still holds processes cannot be removed (rmdir fails with EBUSY), so nothing in use goes.
 */
export function sweepStaleGroups(dir: string): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const n of names) {
    const pid = /^tvisor-(\d+)$/.exec(n)?.[1];
    if (pid === undefined || Number(pid) === process.pid || pidAlive(Number(pid))) continue;
    const group = join(dir, n);
    try {
      for (const child of readdirSync(group, { withFileTypes: true }))
        if (child.isDirectory()) rmdirQuiet(join(group, child.name));
    } catch {
      continue;
    }
    rmdirQuiet(group);
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

function rmdirQuiet(dir: string): void {
  try {
    rmdirSync(dir);
  } catch {
    // Still has processes (they are gone a moment later) or already removed.
  }
}

/** Remove the daemon's parent cgroup (its VMs' groups are removed as they end). */
export function releaseCpuHost(host: CpuHost): void {
  if (host.parent) rmdirQuiet(host.parent);
}

/** The nice value for a weight when no cgroup is available (CFS: ~1.25× weight per nice step). */
export function niceForWeight(weight: number): number {
  const nice = Math.round(Math.log(DEFAULT_CPU_WEIGHT / weight) / Math.log(1.25));
  return Math.max(-20, Math.min(19, nice));
}

/** v1 cpu.shares for a weight (min 2, the kernel's floor). */
export function sharesForWeight(weight: number): number {
  return Math.max(2, weight * 4);
}

/** v2 cpu.weight for a weight (1..10000). */
export function v2WeightFor(weight: number): number {
  return Math.max(1, Math.min(10000, Math.round((weight * 100) / DEFAULT_CPU_WEIGHT)));
}

/** One VM process's CPU controls; `set` may be called again while it runs. */
export class VmCpuControl {
  private group: string | null = null;
  private paceTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  private lastCpuTicks = -1;
  /** Applied so far (for inspect). */
  weight = DEFAULT_CPU_WEIGHT;
  capPercent = 0;

  constructor(
    private readonly host: CpuHost,
    private readonly pid: number,
    vmName: string,
    private readonly log: (msg: string) => void,
  ) {
    if (host.parent) {
      const dir = join(host.parent, `vm-${vmName}`);
      try {
        mkdirSync(dir, { recursive: true });
        // cgroup.procs moves the whole process (every thread) in both v1 and v2.
        appendFileSync(join(dir, "cgroup.procs"), String(pid));
        this.group = dir;
      } catch (e) {
        log(`cannot put VM ${vmName} in a cgroup (${(e as Error).message}); pacing it instead`);
        rmdirQuiet(dir);
      }
    }
  }

  /** The mechanism in force for this VM. */
  get mechanism(): CpuMechanism {
    return this.group === null ? "pacing" : this.host.mechanism;
  }

  set(weight: number, capPercent: number): void {
    this.weight = weight;
    this.capPercent = capPercent;
    const g = this.group;
    if (g !== null && this.host.mechanism === "cgroup-v2") {
      writeFileSync(join(g, "cpu.weight"), String(v2WeightFor(weight)));
      writeFileSync(
        join(g, "cpu.max"),
        capPercent > 0 ? `${Math.round((capPercent * PERIOD_US) / 100)} ${PERIOD_US}` : `max ${PERIOD_US}`,
      );
      return;
    }
    if (g !== null) {
      writeFileSync(join(g, "cpu.shares"), String(sharesForWeight(weight)));
      writeFileSync(join(g, "cpu.cfs_period_us"), String(PERIOD_US));
      writeFileSync(
        join(g, "cpu.cfs_quota_us"),
        capPercent > 0 ? String(Math.max(1000, Math.round((capPercent * PERIOD_US) / 100))) : "-1",
      );
      return;
    }
    try {
      setPriority(this.pid, niceForWeight(weight));
    } catch (e) {
      this.log(`cannot set the nice value of process ${this.pid}: ${(e as Error).message}`);
    }
    this.pace(capPercent);
  }

  /**
   * Duty-cycle pacing against the cap: each period, the process runs until it used capPercent of the
   * period in CPU time (utime + stime from /proc/PID/stat), then stays stopped until the period ends.
   */
  private pace(capPercent: number): void {
    if (this.paceTimer) clearInterval(this.paceTimer);
    this.paceTimer = null;
    this.resume();
    if (capPercent <= 0) return;
    const tick = 10; // ms between checks within a period
    const budgetTicks = ((capPercent / 100) * PACE_PERIOD_MS) / 10; // in clock ticks (USER_HZ = 100)
    let periodStart = performance.now();
    let startTicks = this.cpuTicks();
    this.paceTimer = setInterval(() => {
      const now = performance.now();
      const ticks = this.cpuTicks();
      if (ticks < 0) return;
      if (now - periodStart >= PACE_PERIOD_MS) {
        periodStart = now;
        // Overuse carries over: a period that ran over starts in debt.
        startTicks = Math.max(startTicks + budgetTicks, ticks - budgetTicks);
        if (ticks - startTicks < budgetTicks) this.resume();
        return;
      }
      if (!this.stopped && ticks - startTicks >= budgetTicks) this.signal("SIGSTOP");
    }, tick);
    this.paceTimer.unref();
  }

  private cpuTicks(): number {
    try {
      const stat = readFileSync(`/proc/${this.pid}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      // Fields 14 and 15 (utime, stime) are at 11 and 12 after the command name (proc(5)).
      this.lastCpuTicks = Number(f[11]) + Number(f[12]);
    } catch {
      return -1;
    }
    return this.lastCpuTicks;
  }

  private resume(): void {
    if (this.stopped) this.signal("SIGCONT");
  }

  private signal(sig: "SIGSTOP" | "SIGCONT"): void {
    try {
      process.kill(this.pid, sig);
      this.stopped = sig === "SIGSTOP";
    } catch {
      // The process is gone.
    }
  }

  /** The VM process ended (or is about to be killed): stop pacing and remove its cgroup. */
  close(): void {
    if (this.paceTimer) clearInterval(this.paceTimer);
    this.paceTimer = null;
    this.resume();
    if (this.group) {
      const g = this.group;
      this.group = null;
      rmdirQuiet(g);
    }
  }
}
