/** VM definitions on disk: one JSON file per VM in <state-dir>/vms, written atomically, checked when read back. */
import { mkdir, readdir, readFile, unlink } from "node:fs/promises";
import { join } from "node:path";
import { Value } from "@sinclair/typebox/value";
import { type SnapshotInfo, SnapshotInfo as SnapshotInfoSchema } from "../api/snapshots.js";
import { type VmDefinition, VmDefinition as VmDefinitionSchema } from "../api/vm-spec.js";
import { errorMessage } from "../base/errors.js";
import { removeStaleTemporaries, writeFileAtomic } from "./atomic-file.js";

/** What is persisted for one VM. */
export interface VmRecord {
  format: "tvisor-vm";
  version: 1;
  definition: VmDefinition;
  /** Distinguishes VMs on one network (default MACs); fixed at define time. */
  vmIndex: number;
  /** Last state the daemon recorded; running/paused read back as stopped (the process is gone). */
  state: "defined" | "stopped" | "crashed" | "running" | "paused" | "incoming";
  reason?: string;
  notes?: string[];
  /** The snapshot tree (metadata; the data is in the qcow2 disks) and the current position in it. */
  snapshots?: SnapshotInfo[];
  currentSnapshot?: string | null;
  /**
   * A stopped VM reverted to a snapshot that holds machine state: its next start restores that state
   * (from the snapshot's VM-state area) instead of booting. Cleared by that start and by deleting it.
   */
  resumeSnapshot?: string;
  /**
   * Images (real paths) this VM's disks are linked-clone overlays of: while the VM exists, no VM may
   * open them writable (the daemon refuses to start one that would).
   */
  linkedBases?: string[];
}

const FILE_SUFFIX = ".json";

export class VmStore {
  readonly dir: string;
  constructor(stateDir: string) {
    this.dir = join(stateDir, "vms");
  }

  async init(): Promise<string[]> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    return removeStaleTemporaries(this.dir);
  }

  private path(name: string): string {
    return join(this.dir, `${name}${FILE_SUFFIX}`);
  }

  async save(rec: VmRecord): Promise<void> {
    await writeFileAtomic(this.path(rec.definition.name), `${JSON.stringify(rec, null, 2)}\n`);
  }

  async remove(name: string): Promise<void> {
    await unlink(this.path(name));
  }

  /**
   * Every stored VM. A file that does not parse or does not match the schema is skipped with a
   * one-line complaint (the daemon keeps serving the others); the file stays for the user to inspect.
   */
  async loadAll(complain: (msg: string) => void): Promise<VmRecord[]> {
    const out: VmRecord[] = [];
    for (const file of (await readdir(this.dir)).sort()) {
      if (!file.endsWith(FILE_SUFFIX)) continue;
      const path = join(this.dir, file);
      try {
        const rec = parseRecord(await readFile(path, "utf8"));
        if (`${rec.definition.name}${FILE_SUFFIX}` !== file)
          throw new Error(`names VM "${rec.definition.name}", not ${file}`);
        out.push(rec);
      } catch (e) {
        complain(`skipping ${path}: ${errorMessage(e)}`);
      }
    }
    return out;
  }
}

function parseRecord(text: string): VmRecord {
  const raw = JSON.parse(text) as Partial<VmRecord>;
  if (raw === null || typeof raw !== "object" || raw.format !== "tvisor-vm" || raw.version !== 1)
    throw new Error("not a tvisor VM definition (format/version)");
  if (!Value.Check(VmDefinitionSchema, raw.definition)) {
    const first = Value.Errors(VmDefinitionSchema, raw.definition).First();
    throw new Error(`definition${first?.path ?? ""}: ${first?.message ?? "invalid"}`);
  }
  if (
    typeof raw.vmIndex !== "number" ||
    !Number.isInteger(raw.vmIndex) ||
    raw.vmIndex < 0 ||
    raw.vmIndex > 0xffff
  )
    throw new Error("vmIndex must be 0..65535");
  const states = ["defined", "stopped", "crashed", "running", "paused", "incoming"];
  if (typeof raw.state !== "string" || !states.includes(raw.state)) throw new Error("bad state");
  const rec: VmRecord = {
    format: "tvisor-vm",
    version: 1,
    definition: raw.definition,
    vmIndex: raw.vmIndex,
    state: raw.state,
    reason: typeof raw.reason === "string" ? raw.reason : undefined,
    notes: Array.isArray(raw.notes) ? raw.notes.filter((n): n is string => typeof n === "string") : undefined,
  };
  if (raw.snapshots !== undefined) {
    if (!Array.isArray(raw.snapshots) || !raw.snapshots.every((s) => Value.Check(SnapshotInfoSchema, s)))
      throw new Error("snapshots: not a list of snapshot records");
    const names = new Set(raw.snapshots.map((s) => s.name));
    if (names.size !== raw.snapshots.length) throw new Error("snapshots: duplicate names");
    if (raw.snapshots.some((s) => s.parent !== null && !names.has(s.parent)))
      throw new Error("snapshots: a parent is missing");
    rec.snapshots = raw.snapshots;
    const cur = raw.currentSnapshot;
    rec.currentSnapshot = typeof cur === "string" && names.has(cur) ? cur : null;
    const resume = raw.resumeSnapshot;
    if (typeof resume === "string" && names.has(resume)) rec.resumeSnapshot = resume;
  }
  if (Array.isArray(raw.linkedBases))
    rec.linkedBases = raw.linkedBases.filter((b): b is string => typeof b === "string");
  return rec;
}
