/** Disk ownership among running VMs: a writable image belongs to one VM; read-only images may be shared. */
import { realpathSync } from "node:fs";
import type { DiskSpec } from "../api/vm-spec.js";
import { conflict } from "./api-error.js";

interface Holder {
  vm: string;
  readOnly: boolean;
}

/** Resolve symlinks so two names of one file are one lock; a missing file keeps its given path. */
function key(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

export class DiskLocks {
  private readonly held = new Map<string, Holder[]>();

  /** Take every disk of `vm` or none: a conflict names the other VM and the image. */
  acquire(vm: string, disks: DiskSpec[]): void {
    const wanted = disks.map((d) => ({ key: key(d.path), path: d.path, readOnly: d.readOnly ?? false }));
    for (const w of wanted) {
      for (const h of this.held.get(w.key) ?? []) {
        if (h.vm === vm) continue;
        if (!w.readOnly || !h.readOnly)
          throw conflict(
            `disk ${w.path} is in use by VM "${h.vm}"${h.readOnly ? " (read-only)" : ""}; only read-only disks may be shared`,
          );
      }
    }
    // A VM naming one image twice writable would also be two writers.
    const seen = new Set<string>();
    for (const w of wanted) {
      if (!w.readOnly && seen.has(w.key)) throw conflict(`disk ${w.path} is attached twice to VM "${vm}"`);
      seen.add(w.key);
    }
    for (const w of wanted) {
      const list = this.held.get(w.key) ?? [];
      list.push({ vm, readOnly: w.readOnly });
      this.held.set(w.key, list);
    }
  }

  release(vm: string): void {
    for (const [k, list] of this.held) {
      const rest = list.filter((h) => h.vm !== vm);
      if (rest.length === 0) this.held.delete(k);
      else this.held.set(k, rest);
    }
  }
}
