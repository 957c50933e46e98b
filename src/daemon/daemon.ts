/** The daemon's VM manager: definitions, lifecycle, disk locks, networks and events (no HTTP here). */
import { EventEmitter } from "node:events";
import { readFileSync } from "node:fs";
import { access, constants } from "node:fs/promises";
import { basename } from "node:path";
import { fileURLToPath } from "node:url";
import type { VmEvent, VmInfo, VmStats } from "../api/messages.js";
import { DEFAULT_MAX_DOWNTIME_MS, type MigrateRequest, type MigrateResult } from "../api/migration.js";
import { NAME_PATTERN, type VmDefinition, type VmUpdate } from "../api/vm-spec.js";
import { errorMessage } from "../base/errors.js";
import { openImage } from "../storage/node/open-image.js";
import { ApiError, badField, conflict, notFound } from "./api-error.js";
import { type CpuHost, probeCpuHost, releaseCpuHost } from "./cpu-control.js";
import { DiskLocks } from "./disk-locks.js";
import { ManagedVm } from "./managed-vm.js";
import { decide, type PolicyVm, parseMeminfo } from "./memory-policy.js";
import { migrationUrl } from "./migration-link.js";
import { NetSwitches } from "./net-switch.js";
import { readStateFileInfo, type StateFileInfo } from "./state-file-glue.js";
import { checkDefinition } from "./vm-config-of.js";
import type { FromVm } from "./vm-ipc.js";
import { type VmRecord, VmStore } from "./vm-store.js";

/** The bundled guest (images/riscv64), relative to dist/src/daemon/ and src/daemon/. */
export function bundledImage(name: string): string {
  return fileURLToPath(new URL(`../../../images/riscv64/${name}`, import.meta.url));
}

export const DEFAULT_STOP_TIMEOUT_SEC = 30;

/** `web.state` → `web`; null when the base name is not a valid VM name. */
export function defaultRestoreName(file: string): string | null {
  const base = basename(file).replace(/\.[^.]*$/, "");
  return new RegExp(NAME_PATTERN).test(base) ? base : null;
}

export interface DaemonOptions {
  stateDir: string;
  /** The VM process entry script (dist/src/bin/tvisor-vm.js). */
  vmEntry: string;
  log(msg: string): void;
  /** How CPU weight and cap are enforced; default: probed (a per-daemon cgroup, else pacing). */
  cpuHost?: CpuHost;
  /** Run the host-wide memory policy (memory-policy.ts); default true. */
  memoryPolicy?: boolean;
}

/** How often the memory policy looks at the host. */
const POLICY_INTERVAL_MS = 5000;

export class Daemon extends EventEmitter<{ event: [VmEvent] }> {
  private readonly vms = new Map<string, ManagedVm>();
  private readonly store: VmStore;
  private readonly locks = new DiskLocks();
  private readonly nets = new NetSwitches();
  /** Names being defined right now (the disk probe is async), so two defines of one name cannot race. */
  private readonly reserved = new Set<string>();
  /** Per-VM chain of record writes, so they land in order. */
  private readonly writes = new Map<string, Promise<void>>();

  private policyTimer: NodeJS.Timeout | null = null;
  /** How CPU weight and cap are enforced on this host (inspect says which). */
  readonly cpuHost: CpuHost;

  constructor(private readonly opts: DaemonOptions) {
    super();
    this.store = new VmStore(opts.stateDir);
    this.cpuHost = opts.cpuHost ?? probeCpuHost();
    if (opts.memoryPolicy ?? true) {
      this.policyTimer = setInterval(() => this.applyMemoryPolicy(), POLICY_INTERVAL_MS);
      this.policyTimer.unref();
    }
    this.log(
      `CPU weight and cap: ${this.cpuHost.mechanism}${this.cpuHost.parent ? ` (${this.cpuHost.parent})` : ""}${this.cpuHost.why ? ` (${this.cpuHost.why})` : ""}`,
    );
  }

  private log(msg: string): void {
    this.opts.log(msg);
  }

  /** Load every stored VM; start those marked autostart. */
  async init(): Promise<void> {
    const stale = await this.store.init();
    for (const s of stale) this.log(`removed a half-written file left by a killed daemon: vms/${s}`);
    for (const rec of await this.store.loadAll((m) => this.log(m))) {
      if (rec.state === "incoming") {
        // A migration was arriving when the daemon died: the source still has the VM.
        await this.store.remove(rec.definition.name);
        this.log(`VM ${rec.definition.name}: removed an incoming migration the daemon did not finish`);
        continue;
      }
      const vm = this.manage(rec);
      this.log(`VM ${vm.name}: ${vm.state}${vm.reason ? ` (${vm.reason})` : ""}`);
    }
    for (const vm of this.vms.values()) {
      if (!vm.record.definition.autostart) continue;
      this.start(vm.name).catch((e) => this.log(`VM ${vm.name}: autostart failed: ${errorMessage(e)}`));
    }
  }

  private manage(rec: VmRecord): ManagedVm {
    const vm = new ManagedVm(rec, {
      entry: this.opts.vmEntry,
      log: (m) => this.log(m),
      changed: (v) => this.changed(v),
      attachNic: (network, deliver) => this.nets.attach(network, deliver),
      cpuHost: this.cpuHost,
      released: (v) => {
        this.locks.release(v.name);
        this.nets.prune();
      },
    });
    this.vms.set(vm.name, vm);
    return vm;
  }

  private vm(name: string): ManagedVm {
    const vm = this.vms.get(name);
    if (!vm) throw notFound(name);
    return vm;
  }

  private emitEvent(e: Omit<VmEvent, "time">): void {
    this.emit("event", { time: new Date().toISOString(), ...e });
  }

  private changed(vm: ManagedVm): void {
    if (this.vms.get(vm.name) !== vm) return;
    vm.record.state = vm.state;
    vm.record.reason = vm.reason;
    this.log(`VM ${vm.name}: ${vm.state}${vm.reason ? ` (${vm.reason})` : ""}`);
    this.emitEvent({ vm: vm.name, kind: "state", state: vm.state, reason: vm.reason });
    void this.persist(vm.record).catch((e) =>
      this.log(`VM ${vm.name}: cannot record state: ${errorMessage(e)}`),
    );
  }

  private persist(rec: VmRecord): Promise<void> {
    const name = rec.definition.name;
    const snapshot = structuredClone(rec);
    const next = (this.writes.get(name) ?? Promise.resolve())
      .catch(() => {})
      .then(() => this.store.save(snapshot));
    this.writes.set(name, next);
    return next;
  }

  list(): VmInfo[] {
    return [...this.vms.values()].sort((a, b) => a.name.localeCompare(b.name)).map((v) => v.info());
  }

  inspect(name: string): VmInfo {
    return this.vm(name).info();
  }

  stats(name: string): VmStats {
    return this.vm(name).stats();
  }

  /** Change a VM's CPU weight and cap, stored in its definition and applied at once when it runs. */
  async setCpu(name: string, req: { weight?: number; capPercent?: number }): Promise<VmInfo> {
    const vm = this.vm(name);
    const def = { ...vm.record.definition };
    if (req.weight !== undefined) def.cpuWeight = req.weight;
    if (req.capPercent !== undefined) def.cpuCapPercent = req.capPercent;
    vm.record.definition = def;
    await this.persist(vm.record);
    vm.applyCpu();
    this.emitEvent({ vm: name, kind: "updated" });
    return vm.info();
  }

  /** Let VM `name` keep `bytes` of RAM: its balloon takes the rest. */
  async balloon(name: string, bytes: number): Promise<VmInfo> {
    const vm = this.vm(name);
    await vm.balloon(bytes);
    return vm.info();
  }

  allStats(): VmStats[] {
    return [...this.vms.values()].map((v) => v.stats());
  }

  consoleOf(name: string): ManagedVm {
    return this.vm(name);
  }

  /**
   * Fill in what the definition leaves to defaults that depend on the host (the bundled kernel, each
   * disk's format), check that the files exist, and check the machine as the VMM will. Every problem is
   * a 400 naming the field. Returns notes on what was decided, for the response and the log.
   */
  private async resolve(input: VmDefinition): Promise<{ definition: VmDefinition; notes: string[] }> {
    const d: VmDefinition = structuredClone(input);
    const notes: string[] = [];
    const bios = d.bios ?? "builtin";
    if (bios === "none") throw badField("body.bios", "none (a bare program) runs only with `tvisor run`");
    if (d.kernel === undefined && bios === "builtin") {
      d.kernel = bundledImage("Image.gz");
      d.initrd ??= bundledImage("initramfs.cpio.gz");
      notes.push("kernel and initrd: the bundled guest");
    }
    const readable = async (field: string, path: string | undefined) => {
      if (path === undefined) return;
      try {
        await access(path, constants.R_OK);
      } catch (e) {
        const code = (e as { code?: string }).code;
        throw badField(
          field,
          `cannot read ${path}: ${code === "ENOENT" ? "no such file" : (code ?? errorMessage(e))}`,
        );
      }
    };
    await readable("body.kernel", d.kernel);
    await readable("body.initrd", d.initrd);
    if (bios !== "builtin") await readable("body.bios", bios);
    for (const [i, disk] of (d.disks ?? []).entries()) {
      // Open once (read-only, so a disk in use elsewhere is not disturbed): the file must be an image we
      // can open, and a format left out is probed now and recorded, so every later start opens it the
      // same way (a raw image whose first bytes later look like qcow2 must stay raw).
      try {
        const img = await openImage(disk.path, { format: disk.format, readOnly: true });
        if (disk.format === undefined) {
          disk.format = img.format === "qcow2" ? "qcow2" : "raw";
          notes.push(`disks[${i}]: format ${disk.format} probed from ${disk.path} and recorded`);
        }
        await img.close();
      } catch (e) {
        if (e instanceof ApiError) throw e;
        throw badField(`body.disks[${i}]`, errorMessage(e));
      }
    }
    checkDefinition(d, 0);
    return { definition: d, notes };
  }

  private freeIndex(): number {
    const used = new Set([...this.vms.values()].map((v) => v.record.vmIndex));
    for (let i = 0; i <= 0xffff; i++) if (!used.has(i)) return i;
    throw conflict("too many VMs (65536)");
  }

  async define(input: VmDefinition): Promise<VmInfo> {
    const name = input.name;
    if (this.vms.has(name) || this.reserved.has(name)) throw conflict(`VM "${name}" already exists`);
    this.reserved.add(name);
    try {
      const { definition, notes } = await this.resolve(input);
      const rec: VmRecord = {
        format: "tvisor-vm",
        version: 1,
        definition,
        vmIndex: this.freeIndex(),
        state: "defined",
      };
      if (notes.length) rec.notes = notes;
      await this.persist(rec);
      const vm = this.manage(rec);
      this.log(`VM ${name}: defined${notes.length ? `; ${notes.join("; ")}` : ""}`);
      this.emitEvent({ vm: name, kind: "defined", state: vm.state });
      return vm.info();
    } finally {
      this.reserved.delete(name);
    }
  }

  async update(name: string, patch: VmUpdate): Promise<VmInfo> {
    const vm = this.vm(name);
    if (vm.active) throw conflict(`VM "${name}" is ${vm.state}; stop it before changing its definition`);
    // Disks given again without a format are probed again; others keep their recorded format.
    const merged: VmDefinition = { ...vm.record.definition, ...patch, name };
    const { definition, notes } = await this.resolve(merged);
    if (vm.active) throw conflict(`VM "${name}" was started meanwhile; not changed`);
    vm.record.definition = definition;
    vm.record.notes = [...(vm.record.notes ?? []), ...notes];
    await this.persist(vm.record);
    this.log(`VM ${name}: updated${notes.length ? `; ${notes.join("; ")}` : ""}`);
    this.emitEvent({ vm: name, kind: "updated", state: vm.state });
    return vm.info();
  }

  async remove(name: string): Promise<void> {
    const vm = this.vm(name);
    if (vm.active) throw conflict(`VM "${name}" is ${vm.state}; stop it before deleting it`);
    await this.writes.get(name)?.catch(() => {});
    this.vms.delete(name);
    this.writes.delete(name);
    await this.store.remove(name);
    this.log(`VM ${name}: deleted`);
    this.emitEvent({ vm: name, kind: "deleted" });
  }

  async start(name: string, file?: string): Promise<VmInfo> {
    const vm = this.vm(name);
    if (vm.active) throw conflict(`VM "${name}" is already ${vm.state}`);
    this.locks.acquire(name, vm.record.definition.disks ?? []);
    try {
      await vm.start(file);
    } catch (e) {
      if (!vm.active) this.locks.release(name);
      throw e;
    }
    return vm.info();
  }

  async stop(name: string, timeoutSec = DEFAULT_STOP_TIMEOUT_SEC): Promise<VmInfo> {
    const vm = this.vm(name);
    await vm.stop(timeoutSec);
    return vm.info();
  }

  async kill(name: string): Promise<VmInfo> {
    const vm = this.vm(name);
    await vm.kill();
    return vm.info();
  }

  async pause(name: string): Promise<VmInfo> {
    const vm = this.vm(name);
    await vm.pause();
    return vm.info();
  }

  async resume(name: string): Promise<VmInfo> {
    const vm = this.vm(name);
    await vm.resume();
    return vm.info();
  }

  async save(name: string, file: string): Promise<{ file: string; bytes: number; ms: number }> {
    const r = await this.vm(name).save(file);
    this.log(`VM ${name}: saved to ${file} (${r.bytes} bytes, ${Math.round(r.ms)} ms)`);
    return { file, ...r };
  }

  /**
   * Restore a state file into VM `name` (default: the file's base name, `web.state` → `web`). A VM of
   * that name that is not running takes the file's machine (keeping its networks, limits and autostart);
   * otherwise a new VM is defined from it. The header is checked first; if the VM process then finds the
   * file truncated, corrupt or incompatible, the definition is put back as it was (or removed), so a bad
   * file changes nothing. Errors are a 400 naming body.file.
   */
  async restore(file: string, name?: string): Promise<VmInfo> {
    let header: StateFileInfo;
    try {
      header = await readStateFileInfo(file);
    } catch (e) {
      throw badField("body.file", errorMessage(e));
    }
    const target = name ?? defaultRestoreName(file);
    if (target === null)
      throw badField("body.name", `required: the file name ${basename(file)} does not give a VM name`);
    const existing = this.vms.get(target);
    if (existing?.active)
      throw conflict(`VM "${target}" is ${existing.state}; stop it or restore with another name`);
    const machine = (old?: VmDefinition): VmDefinition => {
      const def: VmDefinition = { ...header.definition, name: target };
      // A file's network NICs name the network they were saved on ("default" for files that predate
      // backends): an existing VM keeps its own networks. Other backends come from the file.
      def.nics = (header.definition.nics ?? []).map((n, i) =>
        n.backend === undefined ? { ...n, network: old?.nics?.[i]?.network ?? n.network ?? "default" } : n,
      );
      if (def.nics.length === 0) delete def.nics;
      for (const k of [
        "autostart",
        "cpuWeight",
        "cpuCapPercent",
        "memOverheadMiB",
        "memTargetBytes",
      ] as const)
        if (old?.[k] !== undefined) def[k] = old[k] as never;
      return def;
    };
    let undo: () => Promise<void>;
    if (existing) {
      const before = structuredClone(existing.record);
      const { definition } = await this.resolve(machine(existing.record.definition));
      existing.record.definition = definition;
      await this.persist(existing.record);
      undo = async () => {
        existing.record = before;
        existing.state = before.state === "running" || before.state === "paused" ? "stopped" : before.state;
        existing.reason = before.reason;
        await this.persist(existing.record);
        this.emitEvent({ vm: target, kind: "state", state: existing.state, reason: existing.reason });
      };
    } else {
      await this.define(machine());
      undo = () => this.remove(target);
    }
    try {
      return await this.start(target, file);
    } catch (e) {
      await undo().catch((u) =>
        this.log(`VM ${target}: could not undo the failed restore: ${errorMessage(u)}`),
      );
      const why = errorMessage(e).replace(/^VM "[^"]*" could not start: /, "");
      throw badField("body.file", why);
    }
  }

  /**
   * Live-migrate a running VM to the daemon at `to` (HOST:PORT of its TCP API). The VM process streams
   * to it directly; on success the VM is the destination's and its definition is removed here (the disks,
   * on shared storage, are left alone). On failure it runs on here and the error is a 409.
   */
  async migrate(name: string, req: MigrateRequest): Promise<MigrateResult> {
    const vm = this.vm(name);
    if (req.copyStorage)
      throw badField("body.copyStorage", "copying disks along is not implemented yet; use shared storage");
    const maxDowntimeMs = req.maxDowntimeMs ?? DEFAULT_MAX_DOWNTIME_MS;
    // Default MACs derive from the VM's name, which the destination keeps: the guest keeps its addresses.
    const def: VmDefinition = structuredClone(vm.record.definition);
    const report = (await vm.migrate(migrationUrl(req.to), req.token, maxDowntimeMs, def)) as Omit<
      MigrateResult,
      "to"
    >;
    this.log(
      `VM ${name}: migrated to ${req.to}: ${report.rounds} rounds, ${report.bytes} bytes, ${Math.round(report.totalMs)} ms, downtime ${Math.round(report.downtimeMs)} ms`,
    );
    await this.remove(name);
    return { to: req.to, ...report };
  }

  /**
   * Define the VM of an arriving migration (state `incoming`) and fork its process; `relay` gets what
   * the process sends back. Errors: 400/409 as for define (name taken, disks not readable here).
   */
  async acceptIncoming(def: VmDefinition, relay: (m: FromVm) => void): Promise<ManagedVm> {
    await this.define({ ...def, autostart: false });
    const vm = this.vm(def.name);
    try {
      this.locks.acquire(def.name, vm.record.definition.disks ?? []);
      await vm.startIncoming(relay);
    } catch (e) {
      this.locks.release(def.name);
      await this.remove(def.name).catch(() => {});
      throw e;
    }
    return vm;
  }

  /** Drop an incoming migration that failed: its process and its definition go. */
  async abandonIncoming(vm: ManagedVm, reason: string): Promise<void> {
    if (this.vms.get(vm.name) !== vm) return;
    await vm.abandon(reason);
    await this.remove(vm.name).catch((e) => this.log(`VM ${vm.name}: ${errorMessage(e)}`));
    this.log(`VM ${vm.name}: incoming migration failed: ${reason}`);
  }

  /** One round of the host-wide memory policy: squeeze idle VMs when the host is short, give back after. */
  private applyMemoryPolicy(): void {
    let host: { total: number; available: number } | null = null;
    try {
      host = parseMeminfo(readFileSync("/proc/meminfo", "utf8"));
    } catch {
      return;
    }
    if (host === null) return;
    const views = [...this.vms.values()].map((v) => v.policyView()).filter((v): v is PolicyVm => v !== null);
    for (const d of decide(host, views)) {
      const vm = this.vms.get(d.name);
      if (!vm) continue;
      vm.squeezed = d.squeezed;
      this.log(
        `memory policy: host MemAvailable ${Math.round(host.available / 2 ** 20)} MiB of ${Math.round(host.total / 2 ** 20)} MiB; VM ${d.name} may keep ${Math.round(d.keepBytes / 2 ** 20)} MiB`,
      );
      vm.balloon(d.keepBytes).catch((e) => this.log(`VM ${d.name}: memory policy: ${errorMessage(e)}`));
    }
  }

  /** Kill every VM process (daemon shutdown): they are recorded as stopped. */
  async shutdown(): Promise<void> {
    if (this.policyTimer) clearInterval(this.policyTimer);
    await Promise.all([...this.vms.values()].filter((v) => v.active).map((v) => v.kill().catch(() => {})));
    releaseCpuHost(this.cpuHost);
    await Promise.all([...this.writes.values()].map((w) => w.catch(() => {})));
  }
}
