/** The daemon's VM manager: definitions, lifecycle, disk locks, networks and events (no HTTP here). */
import { EventEmitter } from "node:events";
import { readFileSync } from "node:fs";
import { access, constants, realpath, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { SwitchCreateRequest, VmEvent, VmInfo, VmStats } from "../api/messages.js";
import { DEFAULT_MAX_DOWNTIME_MS, type MigrateRequest, type MigrateResult } from "../api/migration.js";
import type {
  CloneRequest,
  SnapshotInfo,
  SnapshotList,
  SnapshotPrecopy,
  SnapshotResult,
} from "../api/snapshots.js";
import { NAME_PATTERN, type VmDefinition, type VmUpdate } from "../api/vm-spec.js";
import { errorMessage, FieldError, UserError } from "../base/errors.js";
import { switchDirOf } from "../base/node/state-dir.js";
import { convertImage } from "../storage/convert.js";
import { createImageFile } from "../storage/node/create-image.js";
import { openImage } from "../storage/node/open-image.js";
import { Qcow2Image } from "../storage/qcow2/image.js";
import type { BlockBackend } from "../vmm/host-contracts.js";
import { checkNicBackend, type NicBackendSpec } from "../vmm/nic-spec.js";
import {
  createVmSnapshot,
  deleteVmSnapshot,
  findSnapshot,
  revertVmDisks,
  snapshotTargets,
} from "../vmm/node/vm-snapshot.js";
import { ApiError, badField, conflict, notFound } from "./api-error.js";
import { type CpuHost, probeCpuHost, releaseCpuHost } from "./cpu-control.js";
import { DiskLocks } from "./disk-locks.js";
import { ManagedVm } from "./managed-vm.js";
import { decide, type PolicyVm, parseMeminfo } from "./memory-policy.js";
import { type PlacedDisks, placeIncomingDisks, sweepIncomingDisks } from "./migration-disks.js";
import { migrationUrl } from "./migration-link.js";
import { NetSwitches, type SwitchInfo } from "./net-switch.js";
import { addSnapshot, findRecord, removeSnapshot, treeOf } from "./snapshot-tree.js";
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
  private readonly nets: NetSwitches;
  /** Names being defined right now (the disk probe is async), so two defines of one name cannot race. */
  private readonly reserved = new Set<string>();
  /** VMs with a snapshot or clone operation under way: one at a time, and no start meanwhile. */
  private readonly busy = new Set<string>();
  /** Per-VM chain of record writes, so they land in order. */
  private readonly writes = new Map<string, Promise<void>>();

  private policyTimer: NodeJS.Timeout | null = null;
  /** How CPU weight and cap are enforced on this host (inspect says which). */
  readonly cpuHost: CpuHost;

  constructor(private readonly opts: DaemonOptions) {
    super();
    this.store = new VmStore(opts.stateDir);
    this.nets = new NetSwitches(switchDirOf(opts.stateDir), (m) => this.log(m));
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
    // Copied disks of migrations that never committed (the `incoming` records went above).
    await sweepIncomingDisks(
      this.opts.stateDir,
      (name) => this.vms.has(name),
      (m) => this.log(m),
    );
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
    if (this.busy.has(name)) throw conflict(`VM "${name}" has a snapshot or clone operation under way`);
    await this.checkNotLinkedBase(vm);
    this.locks.acquire(name, vm.record.definition.disks ?? []);
    // A revert while stopped left the snapshot's machine state to resume from, once (a state file wins).
    const resume = file === undefined ? vm.record.resumeSnapshot : undefined;
    if (vm.record.resumeSnapshot !== undefined) {
      delete vm.record.resumeSnapshot;
      await this.persist(vm.record);
    }
    try {
      await vm.start(file, false, resume);
    } catch (e) {
      if (!vm.active) this.locks.release(name);
      throw e;
    }
    if (resume !== undefined) this.log(`VM ${name}: resumed from snapshot ${resume}`);
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
   * on shared storage or copied to the destination with `copyStorage`, are left alone). On failure it runs
   * on here and the error is a 409. No snapshot or clone operation runs meanwhile (their writes would
   * bypass the copy's dirty tracking).
   */
  async migrate(name: string, req: MigrateRequest): Promise<MigrateResult> {
    return this.exclusiveOp(name, () => this.migrateNow(name, req));
  }

  private async migrateNow(name: string, req: MigrateRequest): Promise<MigrateResult> {
    const vm = this.vm(name);
    const maxDowntimeMs = req.maxDowntimeMs ?? DEFAULT_MAX_DOWNTIME_MS;
    // Default MACs derive from the VM's name, which the destination keeps: the guest keeps its addresses.
    const def: VmDefinition = structuredClone(vm.record.definition);
    const report = (await vm.migrate(
      migrationUrl(req.to),
      req.token,
      maxDowntimeMs,
      def,
      req.copyStorage === true,
    )) as Omit<MigrateResult, "to">;
    this.log(
      `VM ${name}: migrated to ${req.to}${req.copyStorage ? " with its disks copied" : ""}: ${report.rounds} rounds, ${report.bytes} bytes, ${Math.round(report.totalMs)} ms, downtime ${Math.round(report.downtimeMs)} ms`,
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

  /** Create the images of an incoming migration with copied storage (migration-disks.ts). */
  placeIncomingDisks(name: string, disks: Parameters<typeof placeIncomingDisks>[2]): Promise<PlacedDisks> {
    return placeIncomingDisks(this.opts.stateDir, name, disks);
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

  /**
   * A linked clone's overlays read their base image through the backing chain; if anything wrote the base,
   * every clone would silently change (qcow2 spec, "Backing file": the backing image must not change). So
   * while a clone exists, no VM may open its base writable.
   */
  private async checkNotLinkedBase(vm: ManagedVm): Promise<void> {
    const writable = (vm.record.definition.disks ?? []).filter((d) => !d.readOnly);
    if (writable.length === 0) return;
    const bases = new Map<string, string>();
    for (const other of this.vms.values())
      for (const b of other.record.linkedBases ?? []) if (other !== vm) bases.set(b, other.name);
    if (bases.size === 0) return;
    for (const d of writable) {
      const real = await realpath(d.path).catch(() => d.path);
      const clone = bases.get(real);
      if (clone !== undefined)
        throw conflict(
          `disk ${d.path} is the base of linked clone "${clone}": it stays read-only while the clone exists (attach it read-only, or delete the clone)`,
        );
    }
  }

  /** Run `fn` with the VM marked busy (one snapshot/clone operation per VM at a time). */
  private async exclusiveOp<T>(name: string, fn: () => Promise<T>): Promise<T> {
    if (this.busy.has(name)) throw conflict(`VM "${name}" has a snapshot or clone operation under way`);
    this.busy.add(name);
    try {
      return await fn();
    } finally {
      this.busy.delete(name);
    }
  }

  /** Open a stopped VM's disks for a snapshot verb (writable ones read-write), call `fn`, close them. */
  private async withOfflineDisks<T>(vm: ManagedVm, fn: (images: BlockBackend[]) => Promise<T>): Promise<T> {
    const disks = vm.record.definition.disks ?? [];
    // Taken as a start would take them, so no other VM writes these images meanwhile.
    this.locks.acquire(vm.name, disks);
    const images: BlockBackend[] = [];
    try {
      for (const d of disks)
        images.push(await openImage(d.path, { format: d.format, readOnly: d.readOnly ?? false }));
      return await fn(images);
    } catch (e) {
      if (e instanceof UserError) throw conflict(errorMessage(e));
      throw e;
    } finally {
      for (const img of images) await img.close().catch(() => {});
      if (!vm.active) this.locks.release(vm.name);
    }
  }

  listSnapshots(name: string): SnapshotList {
    return treeOf(this.vm(name).record);
  }

  /** Take snapshot `snap` of VM `name`: disks and machine state while it runs, disks only when stopped. */
  async createSnapshot(name: string, snap: string): Promise<SnapshotResult> {
    const vm = this.vm(name);
    return this.exclusiveOp(name, async () => {
      if (findRecord(vm.record, snap)) throw conflict(`VM "${name}" already has a snapshot "${snap}"`);
      const disks = vm.record.definition.disks ?? [];
      let r: {
        disks: number[];
        stateDisk: number | null;
        vmStateBytes: number;
        pauseMs: number;
        precopy?: SnapshotPrecopy;
      };
      if (vm.active) {
        r = await vm.snapshot("create", snap);
      } else {
        const done = await this.withOfflineDisks(vm, (images) => createVmSnapshot(null, disks, images, snap));
        r = { ...done, pauseMs: 0 };
      }
      const info: SnapshotInfo = {
        name: snap,
        parent: vm.record.currentSnapshot ?? null,
        createdAt: new Date().toISOString(),
        disks: r.disks,
        stateDisk: r.stateDisk,
        vmStateBytes: r.vmStateBytes,
      };
      addSnapshot(vm.record, info);
      await this.persist(vm.record);
      this.log(
        `VM ${name}: snapshot ${snap} taken (${r.stateDisk === null ? "disks only" : `${r.vmStateBytes} bytes of state`}, paused ${Math.round(r.pauseMs)} ms${r.precopy ? ` after ${r.precopy.rounds} pre-copy rounds in ${Math.round(r.precopy.precopyMs)} ms` : ""})`,
      );
      return {
        snapshot: info,
        pauseMs: r.pauseMs,
        ...(r.precopy ? { precopy: r.precopy } : {}),
        tree: treeOf(vm.record),
      };
    });
  }

  private snapshotOf(vm: ManagedVm, snap: string): SnapshotInfo {
    const info = findRecord(vm.record, snap);
    if (!info) throw new ApiError(404, `VM "${vm.name}" has no snapshot "${snap}"`);
    return info;
  }

  /**
   * Go back to snapshot `snap`. A running or paused VM gets the snapshot's disks and machine state in
   * place (its process, console viewers and NIC ports stay); a stopped VM gets the disks (its next start
   * boots from them). Running on from there makes a new branch of the tree.
   */
  async revertSnapshot(name: string, snap: string): Promise<SnapshotResult> {
    const vm = this.vm(name);
    return this.exclusiveOp(name, async () => {
      const info = this.snapshotOf(vm, snap);
      let pauseMs = 0;
      if (vm.active) {
        pauseMs = (await vm.snapshot("revert", snap)).pauseMs;
      } else {
        const disks = vm.record.definition.disks ?? [];
        const stateBytes = await this.withOfflineDisks(vm, async (images) => {
          const bytes = await revertVmDisks(disks, images, snap);
          // The revert brought the snapshot's VM-state area into the active view; the snapshot keeps it.
          const first = snapshotTargets(disks, images)[0]?.img;
          if (bytes > 0 && first) await first.dropActiveVmState();
          return bytes;
        });
        // The next start continues the machine from the snapshot, as a running VM's revert does now.
        if (stateBytes > 0) vm.record.resumeSnapshot = snap;
        else delete vm.record.resumeSnapshot;
      }
      vm.record.currentSnapshot = info.name;
      await this.persist(vm.record);
      this.log(
        `VM ${name}: reverted to snapshot ${snap}${vm.active ? ` (paused ${Math.round(pauseMs)} ms)` : ""}`,
      );
      return { snapshot: info, pauseMs, tree: treeOf(vm.record) };
    });
  }

  /** Delete snapshot `snap` from every disk, freeing what only it held; its children move to its parent. */
  async deleteSnapshot(name: string, snap: string): Promise<SnapshotResult> {
    const vm = this.vm(name);
    return this.exclusiveOp(name, async () => {
      this.snapshotOf(vm, snap);
      let pauseMs = 0;
      if (vm.active) pauseMs = (await vm.snapshot("delete", snap)).pauseMs;
      else
        await this.withOfflineDisks(vm, (images) =>
          deleteVmSnapshot(vm.record.definition.disks ?? [], images, snap),
        );
      removeSnapshot(vm.record, snap);
      if (vm.record.resumeSnapshot === snap) delete vm.record.resumeSnapshot;
      await this.persist(vm.record);
      this.log(`VM ${name}: snapshot ${snap} deleted`);
      return { pauseMs, tree: treeOf(vm.record) };
    });
  }

  /**
   * Define NEW as a copy of stopped VM `name`. Each writable disk becomes a qcow2 image beside the source
   * disk, named NEW.qcow2 (NEW-1.qcow2, ... for further disks): a full copy (qcow2 convert, compressed
   * clusters optional) or, linked, an overlay whose backing file is the source disk. With a snapshot the
   * copy is of the snapshot's disk state; a linked clone of a snapshot needs an image holding exactly that
   * state, so it is first written out once as SRC.SNAP.base.qcow2 (reused by later clones) and the
   * overlay sits on it. A linked clone of the current state makes the source disk the clone's base: it is
   * then read-only for the source VM while the clone is defined (enforced at start). Read-only disks are
   * shared, not copied. NICs keep their networks and get new MACs (the clone's own VM index).
   */
  async clone(name: string, req: CloneRequest): Promise<VmInfo> {
    const src = this.vm(name);
    if (this.vms.has(req.name) || this.reserved.has(req.name))
      throw conflict(`VM "${req.name}" already exists`);
    if (req.linked && req.compress)
      throw badField("body.compress", "a linked clone copies no data to compress");
    return this.exclusiveOp(name, async () => {
      if (req.snapshot !== undefined) this.snapshotOf(src, req.snapshot);
      else if (src.active)
        throw conflict(
          `VM "${name}" is ${src.state}; stop it to clone its current state, or clone a snapshot`,
        );
      this.reserved.add(req.name);
      const created: string[] = [];
      try {
        const def: VmDefinition = structuredClone(src.record.definition);
        def.name = req.name;
        delete def.autostart;
        if (def.nics) def.nics = def.nics.map(({ mac: _mac, ...rest }) => rest);
        const bases: string[] = [];
        const disks = def.disks ?? [];
        let n = 0;
        for (const [i, d] of disks.entries()) {
          if (d.readOnly) continue;
          const target = join(dirname(d.path), `${req.name}${n === 0 ? "" : `-${n}`}.qcow2`);
          n++;
          if (await exists(target)) throw conflict(`${target} exists; not overwriting it`);
          if (req.linked) {
            let base = d.path;
            if (req.snapshot !== undefined) {
              base = join(
                dirname(d.path),
                `${basename(d.path).replace(/\.[^.]*$/, "")}.${req.snapshot}.base.qcow2`,
              );
              if (!(await exists(base))) {
                created.push(base);
                await copyDisk(d.path, d.format, base, req.snapshot, false);
              }
            }
            created.push(target);
            await createImageFile(target, {
              format: "qcow2",
              backingFile: base,
              backingFormat: req.snapshot !== undefined ? "qcow2" : (d.format ?? null),
            });
            bases.push(await realpath(base));
          } else {
            created.push(target);
            await copyDisk(d.path, d.format, target, req.snapshot, req.compress ?? false);
          }
          disks[i] = { path: target, format: "qcow2", readOnly: false };
        }
        const rec: VmRecord = {
          format: "tvisor-vm",
          version: 1,
          definition: def,
          vmIndex: this.freeIndex(),
          state: "defined",
          notes: [
            `clone of ${name}${req.snapshot !== undefined ? ` at snapshot ${req.snapshot}` : ""}${req.linked ? " (linked)" : ""}`,
          ],
        };
        if (bases.length) rec.linkedBases = bases;
        await this.persist(rec);
        const vm = this.manage(rec);
        this.log(`VM ${req.name}: defined as a ${req.linked ? "linked " : ""}clone of ${name}`);
        this.emitEvent({ vm: req.name, kind: "defined", state: vm.state });
        return vm.info();
      } catch (e) {
        for (const f of created.reverse()) await unlink(f).catch(() => {});
        if (e instanceof UserError) throw conflict(errorMessage(e));
        throw e;
      } finally {
        this.reserved.delete(req.name);
      }
    });
  }

  /** Kill every VM process (daemon shutdown): they are recorded as stopped. */
  /** The named switches (made when a VM first joins one; they live until the daemon stops). */
  switches(): SwitchInfo[] {
    return this.nets.list();
  }

  /** Make a switch now, optionally with a NAT uplink (its options checked as a user NIC's). */
  createSwitch(req: SwitchCreateRequest): Promise<SwitchInfo> {
    if (req.nat === undefined) return this.nets.create(req.name);
    let b: NicBackendSpec;
    try {
      b = checkNicBackend("nat", { kind: "user", hostfwd: req.nat.hostfwd ?? [], hostDns: req.nat.hostDns });
    } catch (e) {
      if (e instanceof FieldError) throw badField(e.field, e.detail);
      throw e;
    }
    if (b.kind !== "user") throw new Error("unreachable: nat checked as a user backend");
    return this.nets.create(req.name, b);
  }

  async shutdown(): Promise<void> {
    if (this.policyTimer) clearInterval(this.policyTimer);
    await Promise.all([...this.vms.values()].filter((v) => v.active).map((v) => v.kill().catch(() => {})));
    releaseCpuHost(this.cpuHost);
    this.nets.close();
    await Promise.all([...this.writes.values()].map((w) => w.catch(() => {})));
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Copy a disk's guest-visible contents (of snapshot `snap` when given) into a new qcow2 image at `target`
 * (qemu-img convert [-l SNAP] [-c]); a failure removes the target.
 */
async function copyDisk(
  path: string,
  format: string | undefined,
  target: string,
  snap: string | undefined,
  compress: boolean,
): Promise<void> {
  const src = await openImage(path, { format, readOnly: true });
  try {
    if (snap !== undefined) {
      const s = src instanceof Qcow2Image ? findSnapshot(src, snap) : null;
      if (!s || !(src instanceof Qcow2Image)) throw new UserError(`${path} has no snapshot '${snap}'`);
      await src.viewSnapshot(s);
    }
    await createImageFile(target, { format: "qcow2", size: src.size });
    const dst = await openImage(target, { format: "qcow2", readOnly: false });
    try {
      await convertImage(src, dst, { compress });
    } finally {
      await dst.close();
    }
  } finally {
    await src.close();
  }
}
