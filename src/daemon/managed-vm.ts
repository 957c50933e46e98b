/** The daemon's side of one VM: its record, state, process, console fan-out, network ports and stats. */
import { type ChildProcess, fork } from "node:child_process";
import { readFileSync } from "node:fs";
import type { VmInfo, VmMemoryStats, VmState, VmStats } from "../api/messages.js";
import {
  DEFAULT_CPU_WEIGHT,
  DEFAULT_MEM_BYTES,
  DEFAULT_MEM_OVERHEAD_MIB,
  type VmDefinition,
} from "../api/vm-spec.js";
import { errorMessage } from "../base/errors.js";
import type { NetBackend } from "../vmm/host-contracts.js";
import { ApiError, conflict } from "./api-error.js";
import { ConsoleHub } from "./console-hub.js";
import { type CpuHost, VmCpuControl } from "./cpu-control.js";
import { ksmStatus } from "./ksm.js";
import type { PolicyVm } from "./memory-policy.js";
import { nicNetwork } from "./vm-config-of.js";
import type { FromVm, SnapshotReply, ToVm, VmCounters } from "./vm-ipc.js";
import type { VmRecord } from "./vm-store.js";

const MiB = 1024 * 1024;
/** How often the daemon checks each VM process's resident memory against its limit. */
const RSS_CHECK_MS = 1000;
/** Stderr kept from a VM process, for the crash reason. */
const STDERR_TAIL = 2048;

/** CPU samples kept for the history in stats (one a second). */
const CPU_HISTORY = 60;

export interface VmProcessHost {
  /** The script forked for a VM process. */
  entry: string;
  log(msg: string): void;
  /** Called on every state change (the daemon persists it and emits an event). */
  changed(vm: ManagedVm): void;
  /** NIC ports on the daemon's switches. */
  attachNic(network: string, deliver: (frame: Uint8Array) => void): NetBackend;
  /** Disk locks are released when the process is gone. */
  released(vm: ManagedVm): void;
  /** How CPU weight and cap are enforced on this host (cpu-control.ts). */
  cpuHost: CpuHost;
}

interface Pending {
  resolve(result: unknown): void;
  reject(e: Error): void;
}

export class ManagedVm {
  state: VmState;
  reason?: string;
  child: ChildProcess | null = null;
  startedAt: Date | null = null;
  readonly console = new ConsoleHub();
  private counters: VmCounters | null = null;
  private rate = { at: 0, instructions: 0, cpuUs: 0, ips: 0, cpuPercent: 0 };
  private rssBytes = 0;
  private lastFatal: string | null = null;
  private stderrTail = "";
  /** Why the process is expected to end (set by stop/kill/limits); null: an exit is a crash. */
  private ending: { state: VmState; reason: string } | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private ports: (NetBackend | null)[] = [];
  private rssTimer: NodeJS.Timeout | null = null;
  private exited: Promise<void> = Promise.resolve();
  /** While a migration arrives: where the process's replies, acknowledgements and commit go. */
  private incoming: ((m: FromVm) => void) | null = null;
  private cpu: VmCpuControl | null = null;
  /** Whether the host-wide memory policy has squeezed this VM (memory-policy.ts). */
  squeezed = false;
  private cpuHistory: number[] = [];

  constructor(
    public record: VmRecord,
    private readonly host: VmProcessHost,
  ) {
    // A VM that was running when the daemon died has no process now.
    if (record.state === "running" || record.state === "paused") {
      this.state = "stopped";
      this.reason = "the daemon restarted";
    } else {
      this.state = record.state;
      this.reason = record.reason;
    }
  }

  get name(): string {
    return this.record.definition.name;
  }

  get active(): boolean {
    return this.child !== null;
  }

  info(): VmInfo {
    const info: VmInfo = { name: this.name, state: this.state, definition: this.record.definition };
    if (this.reason) info.reason = this.reason;
    if (this.child?.pid !== undefined) info.pid = this.child.pid;
    if (this.startedAt && this.active) info.startedAt = this.startedAt.toISOString();
    if (this.record.notes?.length) info.notes = this.record.notes;
    const d = this.record.definition;
    info.cpu = {
      weight: d.cpuWeight ?? DEFAULT_CPU_WEIGHT,
      capPercent: d.cpuCapPercent ?? 0,
      mechanism: this.cpu?.mechanism ?? (this.host.cpuHost.parent ? this.host.cpuHost.mechanism : "pacing"),
    };
    return info;
  }

  private setState(state: VmState, reason?: string): void {
    this.state = state;
    this.reason = reason;
    this.host.changed(this);
  }

  /** Memory limit of the process: guest RAM plus the allowed overhead. */
  get memLimitBytes(): number {
    const d = this.record.definition;
    return (d.memBytes ?? DEFAULT_MEM_BYTES) + (d.memOverheadMiB ?? DEFAULT_MEM_OVERHEAD_MIB) * MiB;
  }

  /**
   * Fork the VM process to receive a live migration: `relay` gets its replies (`migReply`), batch
   * acknowledgements (`migAck`) and the commit (`migrated`, after which the VM is running). Resolves
   * once the process waits for the stream; the VM is `incoming` until then.
   */
  async startIncoming(relay: (m: FromVm) => void): Promise<void> {
    this.incoming = relay;
    await this.start(undefined, true);
  }

  /** Hand one stream message to the VM process receiving a migration. */
  migrationIn(data: Uint8Array): void {
    this.send({ t: "migIn", data });
  }

  /** End a failed incoming migration: the process goes; the caller removes the definition. */
  async abandon(reason: string): Promise<void> {
    this.incoming = null;
    const child = this.child;
    if (!child) return;
    this.ending = { state: "stopped", reason };
    child.kill("SIGKILL");
    await this.exited;
  }

  /**
   * Live-migrate to the daemon at `url` (the VM process connects there itself). Resolves with the report
   * once the destination runs the VM and this process has ended; on failure the VM runs on here.
   */
  async migrate(
    url: string,
    token: string,
    maxDowntimeMs: number,
    def: VmDefinition,
    copyStorage = false,
  ): Promise<unknown> {
    if (this.state !== "running" || !this.child)
      throw conflict(`VM "${this.name}" is ${this.state}; only a running VM can be migrated`);
    const r = await this.request({
      t: "migrate",
      id: this.nextId++,
      url,
      token,
      maxDowntimeMs,
      def,
      ...(copyStorage ? { copyStorage } : {}),
    });
    await this.exited;
    return r;
  }

  /**
   * Fork the VM process and boot (or restore `file`, or the machine state of snapshot `snapshot` on its
   * disks, which are at that snapshot); resolves once the guest runs.
   */
  async start(file?: string, incoming?: boolean, snapshot?: string): Promise<void> {
    if (this.active) throw conflict(`VM "${this.name}" is already ${this.state}`);
    const def = this.record.definition;
    const overheadMiB = def.memOverheadMiB ?? DEFAULT_MEM_OVERHEAD_MIB;
    // Guest RAM is an ArrayBuffer outside V8's heap; the heap holds the emulator's own objects, so
    // bounding old-space bounds the overhead, and the RSS check below bounds the whole process.
    const child = fork(this.host.entry, [this.name], {
      execArgv: [`--max-old-space-size=${overheadMiB}`],
      serialization: "advanced",
      stdio: ["ignore", "ignore", "pipe", "ipc"],
    });
    this.child = child;
    this.ending = null;
    this.lastFatal = null;
    this.stderrTail = "";
    this.counters = null;
    this.rate = { at: 0, instructions: 0, cpuUs: 0, ips: 0, cpuPercent: 0 };
    this.rssBytes = 0;
    this.startedAt = new Date();
    // A failed spawn, or a message sent just as the process died (ERR_IPC_CHANNEL_CLOSED), is reported
    // here; unhandled it would take the daemon down. The exit handler says what became of the VM.
    child.on("error", (e) => this.host.log(`VM ${this.name}: process: ${errorMessage(e)}`));
    child.stderr?.on("data", (d: Buffer) => {
      this.stderrTail = (this.stderrTail + d.toString()).slice(-STDERR_TAIL);
    });
    this.exited = new Promise((resolve) =>
      child.once("exit", (code, signal) => resolve(this.onExit(code, signal))),
    );
    this.cpuHistory = [];
    if (child.pid !== undefined) {
      this.cpu = new VmCpuControl(this.host.cpuHost, child.pid, this.name, (m) =>
        this.host.log(`VM ${this.name}: ${m}`),
      );
      try {
        this.cpu.set(def.cpuWeight ?? DEFAULT_CPU_WEIGHT, def.cpuCapPercent ?? 0);
      } catch (e) {
        this.host.log(`VM ${this.name}: cannot set CPU weight and cap: ${errorMessage(e)}`);
      }
    }
    // Only NICs on a daemon network get a port here; other backends are opened by the VM process.
    this.ports = (def.nics ?? []).map((nic, i) => {
      const network = nicNetwork(nic);
      return network === undefined
        ? null
        : this.host.attachNic(network, (frame) => this.send({ t: "net", nic: i, frame }));
    });
    const started = new Promise<void>((resolve, reject) => {
      let settled = false;
      const done = (e: Error | null) => {
        if (settled) return;
        settled = true;
        child.off("message", onMsg);
        if (e) reject(e);
        else resolve();
      };
      const onMsg = (m: FromVm) => {
        if (m.t === "running") done(null);
        else if (m.t === "fatal") done(new ApiError(409, `VM "${this.name}" could not start: ${m.error}`));
      };
      child.on("message", onMsg);
      // The exit handler has recorded the reason by the time `exited` resolves.
      void this.exited.then(() =>
        done(new ApiError(409, `VM "${this.name}" could not start: ${this.reason ?? "its process exited"}`)),
      );
    });
    child.on("message", (m: FromVm) => this.onMessage(m));
    this.rssTimer = setInterval(() => this.checkMemory(), RSS_CHECK_MS);
    this.rssTimer.unref();
    this.setState(incoming ? "incoming" : "running");
    this.send({
      t: "start",
      def,
      vmIndex: this.record.vmIndex,
      file,
      ...(incoming ? { incoming } : {}),
      ...(snapshot !== undefined ? { snapshot } : {}),
    });
    try {
      await started;
      // The definition's memory target is reached with the balloon once the guest's driver is up.
      if (def.memTargetBytes !== undefined && (def.balloon ?? true)) await this.balloon(def.memTargetBytes);
    } catch (e) {
      // The process is done for: make sure it is gone (and the state recorded) before the caller,
      // which may undo a restore, goes on.
      if (this.child === child) {
        this.ending ??= { state: "crashed", reason: this.lastFatal ?? errorMessage(e) };
        child.kill("SIGKILL");
      }
      await this.exited;
      throw e;
    }
  }

  private send(msg: ToVm): void {
    const c = this.child;
    if (!c?.connected) return;
    try {
      c.send(msg);
    } catch {
      // The process is going away; its exit handler reports why.
    }
  }

  private onMessage(m: FromVm): void {
    switch (m.t) {
      case "console":
        this.console.write(m.data);
        return;
      case "net":
        this.ports[m.nic]?.send(m.frame);
        return;
      case "stats":
        this.sample(m.counters);
        return;
      case "reply": {
        const p = this.pending.get(m.id);
        this.pending.delete(m.id);
        if (m.ok) p?.resolve(m.result);
        else p?.reject(new ApiError(409, `VM "${this.name}": ${m.error}`));
        return;
      }
      case "exit":
        this.ending = { state: "stopped", reason: m.how };
        return;
      case "fatal":
        this.lastFatal = m.error;
        return;
      case "running":
        return;
      case "migReply":
      case "migAck":
        this.incoming?.(m);
        return;
      case "migrated":
        // The relay stays until the process ends: `resumed` follows this message.
        this.incoming?.(m);
        this.setState("running");
        return;
    }
  }

  private onExit(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.rssTimer) clearInterval(this.rssTimer);
    this.rssTimer = null;
    this.cpu?.close();
    this.cpu = null;
    for (const p of this.ports) p?.close();
    this.ports = [];
    this.child = null;
    this.incoming = null;
    for (const p of this.pending.values()) p.reject(new ApiError(409, `VM "${this.name}" ended`));
    this.pending.clear();
    this.host.released(this);
    let state: VmState;
    let reason: string;
    if (this.ending) {
      state = this.ending.state;
      reason = this.ending.reason;
    } else {
      state = "crashed";
      const how = signal ? `killed by ${signal}` : `exited with status ${code}`;
      const why = this.lastFatal ?? lastLine(this.stderrTail);
      reason = why ? `${how}: ${why}` : how;
    }
    this.console.closeAll(`VM ${this.name} ${state}`);
    this.setState(state, reason);
  }

  /** Counters from the VM process: derive per-second rates between samples. */
  private sample(c: VmCounters): void {
    const now = performance.now();
    const cpuUs = c.cpuUserUs + c.cpuSystemUs;
    if (this.rate.at > 0) {
      const dt = (now - this.rate.at) / 1000;
      if (dt > 0) {
        this.rate.ips = Math.max(0, (c.instructions - this.rate.instructions) / dt);
        this.rate.cpuPercent = Math.max(0, (cpuUs - this.rate.cpuUs) / 1e4 / dt);
        this.cpuHistory.push(Math.round(this.rate.cpuPercent * 10) / 10);
        if (this.cpuHistory.length > CPU_HISTORY) this.cpuHistory.shift();
      }
    }
    this.rate.at = now;
    this.rate.instructions = c.instructions;
    this.rate.cpuUs = cpuUs;
    this.counters = c;
  }

  /** Resident memory of the process from /proc (works even when the VM process is busy or stuck). */
  private readRss(): number {
    const pid = this.child?.pid;
    if (pid === undefined) return 0;
    try {
      const pages = Number(readFileSync(`/proc/${pid}/statm`, "utf8").split(" ")[1]);
      return pages * 4096;
    } catch {
      return this.counters?.rssBytes ?? 0;
    }
  }

  private checkMemory(): void {
    this.rssBytes = this.readRss();
    const limit = this.memLimitBytes;
    if (this.rssBytes > limit && this.child) {
      const reason = `memory limit: RSS ${Math.round(this.rssBytes / MiB)} MiB > ${Math.round(limit / MiB)} MiB (guest RAM + overhead)`;
      this.host.log(`VM ${this.name}: ${reason}; killing it`);
      this.ending = { state: "crashed", reason };
      this.child.kill("SIGKILL");
    }
  }

  private request(msg: ToVm & { id: number }): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.pending.set(msg.id, { resolve, reject });
      this.send(msg);
    });
  }

  async pause(): Promise<void> {
    if (this.state !== "running" || !this.child)
      throw conflict(`VM "${this.name}" is ${this.state}, not running`);
    await this.request({ t: "pause", id: this.nextId++ });
    this.setState("paused");
  }

  async resume(): Promise<void> {
    if (this.state !== "paused" || !this.child)
      throw conflict(`VM "${this.name}" is ${this.state}, not paused`);
    await this.request({ t: "resume", id: this.nextId++ });
    this.setState("running");
  }

  /** Let the guest keep `bytes` of RAM; its balloon takes the rest (QEMU's `balloon` command). */
  async balloon(bytes: number): Promise<void> {
    if (!this.child || (this.state !== "running" && this.state !== "paused"))
      throw conflict(`VM "${this.name}" is ${this.state}; only a running or paused VM has a balloon`);
    if (this.record.definition.balloon === false)
      throw conflict(`VM "${this.name}" has no balloon device (it was defined with balloon off)`);
    await this.request({ t: "balloon", id: this.nextId++, bytes });
  }

  /** What the host-wide memory policy needs to know (null: not running, no balloon or no figures yet). */
  policyView(): PolicyVm | null {
    const m = this.memoryStats();
    if (!m?.balloon || this.state !== "running") return null;
    const d = this.record.definition;
    const ram = d.memBytes ?? DEFAULT_MEM_BYTES;
    return {
      name: this.name,
      ramBytes: ram,
      ownTargetBytes: Math.min(ram, d.memTargetBytes ?? ram),
      guestAvailableBytes: m.guest?.availableBytes ?? null,
      balloonBytes: m.balloonBytes,
      currentKeepBytes: ram - m.targetBytes,
      cpuHistory: [...this.cpuHistory],
      squeezed: this.squeezed,
    };
  }

  /** Apply a new CPU weight and cap to the running process (the caller stores them in the definition). */
  applyCpu(): void {
    const d = this.record.definition;
    this.cpu?.set(d.cpuWeight ?? DEFAULT_CPU_WEIGHT, d.cpuCapPercent ?? 0);
  }

  /** The balloon, the guest's memory statistics and KSM, for stats and /metrics. */
  memoryStats(): VmMemoryStats | undefined {
    const m = this.counters?.memory;
    if (!this.active) return undefined;
    const ksm = ksmStatus(this.child?.pid);
    const out: VmMemoryStats = {
      balloon: m != null,
      targetBytes: (m?.balloon.targetPages ?? 0) * 4096,
      balloonBytes: (m?.balloon.actualPages ?? 0) * 4096,
      releasedBytes: m?.balloon.releasedBytes ?? 0,
      reportedBytes: m?.balloon.reportedBytes ?? 0,
      hostileInputs: (m?.balloon.badPfns ?? 0) + (m?.balloon.duplicatePfns ?? 0),
      releasesToHost: m?.releasesToHost ?? false,
      ksm: {
        hostRun: ksm.hostRun,
        shareable: m?.shareable ?? false,
        mergingPages: ksm.mergingPages,
        savedBytes: ksm.profitBytes,
      },
    };
    if (ksm.note) out.ksm.note = ksm.note;
    const g = m?.guest;
    if (g) {
      const n = (v: number) => Math.max(0, Math.min(Number.MAX_SAFE_INTEGER, Math.floor(v)));
      out.guest = {
        freeBytes: n(g.freeMemory),
        availableBytes: n(g.availableMemory),
        cachedBytes: n(g.diskCaches),
        totalBytes: n(g.totalMemory),
        swapInBytes: n(g.swapIn),
        swapOutBytes: n(g.swapOut),
        majorFaults: n(g.majorFaults),
        minorFaults: n(g.minorFaults),
      };
    }
    return out;
  }

  async save(file: string): Promise<{ bytes: number; ms: number }> {
    if (!this.child || (this.state !== "running" && this.state !== "paused"))
      throw conflict(`VM "${this.name}" is ${this.state}; only a running or paused VM can be saved`);
    const r = (await this.request({ t: "save", id: this.nextId++, file })) as { bytes: number; ms: number };
    if (this.state === "running") this.setState("paused");
    return r;
  }

  /** A snapshot verb carried out by the VM process on the disks it holds open (running or paused). */
  async snapshot(op: "create" | "revert" | "delete", name: string): Promise<SnapshotReply> {
    if (!this.child || (this.state !== "running" && this.state !== "paused"))
      throw conflict(`VM "${this.name}" is ${this.state}`);
    return (await this.request({ t: "snapshot", id: this.nextId++, op, name })) as SnapshotReply;
  }

  /** Power button, then kill after `timeoutSec`. Resolves when the process is gone. */
  async stop(timeoutSec: number): Promise<void> {
    const child = this.child;
    if (!child) throw conflict(`VM "${this.name}" is ${this.state}, not running`);
    if (this.state === "paused") await this.resume();
    this.send({ t: "powerButton" });
    const timer = setTimeout(() => {
      if (this.child !== child) return;
      this.ending = { state: "stopped", reason: `no power-off within ${timeoutSec}s; killed` };
      child.kill("SIGKILL");
    }, timeoutSec * 1000);
    await this.exited;
    clearTimeout(timer);
  }

  async kill(): Promise<void> {
    const child = this.child;
    if (!child) throw conflict(`VM "${this.name}" is ${this.state}, not running`);
    this.ending = { state: "stopped", reason: "killed" };
    child.kill("SIGKILL");
    await this.exited;
  }

  /** Console input from any viewer. */
  input(data: Uint8Array): void {
    this.send({ t: "input", data });
  }

  stats(): VmStats {
    const c = this.counters;
    const live = this.active;
    const def = this.record.definition;
    return {
      name: this.name,
      state: this.state,
      uptimeSec: live && this.startedAt ? (Date.now() - this.startedAt.getTime()) / 1000 : 0,
      instructions: live ? (c?.instructions ?? 0) : 0,
      instructionsPerSec: live ? this.rate.ips : 0,
      hostCpuPercent: live ? this.rate.cpuPercent : 0,
      hostCpuHistory: live ? [...this.cpuHistory] : [],
      rssBytes: live ? this.rssBytes || this.readRss() : 0,
      guestRamBytes: def.memBytes ?? DEFAULT_MEM_BYTES,
      disk: { ...(c?.disk ?? { readBytes: 0, writeBytes: 0, reads: 0, writes: 0, flushes: 0 }) },
      net: { ...(c?.net ?? { rxBytes: 0, txBytes: 0, rxFrames: 0, txFrames: 0 }) },
      nics: live ? (c?.nics ?? []).map((n) => ({ ...n })) : [],
      ...(live ? { memory: this.memoryStats() } : {}),
    };
  }
}

function lastLine(text: string): string | null {
  const lines = text.split("\n").filter((l) => l.trim() !== "");
  return lines.length ? lines[lines.length - 1].slice(0, 300) : null;
}
