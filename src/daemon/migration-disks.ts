/**
 * Where a migration with copied storage puts the disks on the destination: `<state-dir>/disks/<VM>/`,
 * one image per source disk under the source file's name (`<i>-<name>` when two share a name), created
 * empty (qcow2 without backing file, or a sparse raw file) of the source's virtual size. A file that is
 * already there is never touched: the file is claimed with O_EXCL, so an existing one (this daemon's or
 * anyone's) refuses the migration. Until the commit a marker (`.incoming`) lists the files this daemon
 * made, so a failed migration, or one the daemon did not live to finish, removes exactly those.
 */
import { closeSync, fsyncSync, openSync } from "node:fs";
import { mkdir, open, readdir, readFile, rmdir, unlink, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { UserError } from "../base/errors.js";
import { createImageFile } from "../storage/node/create-image.js";
import { MigrationError } from "../vmm/migration/errors.js";
import type { HelloDisk } from "../vmm/migration/protocol.js";

const MARKER = ".incoming";

export function incomingDiskDir(stateDir: string, vm: string): string {
  return join(stateDir, "disks", vm);
}

/** The images made for one incoming migration: their paths, and removing or keeping them. */
export interface PlacedDisks {
  paths: string[];
  /** The migration failed: remove the files made here (and the folder when it is left empty). */
  remove(): Promise<void>;
  /** The migration committed: the files are the VM's now. */
  keep(): Promise<void>;
}

/** fsync a directory so the names just made in it survive a host crash (POSIX fsync(2); Linux ext4). */
function syncDir(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

async function removeListed(dir: string, names: readonly string[]): Promise<void> {
  for (const n of names) await unlink(join(dir, n)).catch(() => {});
  await unlink(join(dir, MARKER)).catch(() => {});
  await rmdir(dir).catch(() => {}); // only when empty: files the user put there stay
}

/** Create the destination's images for `disks` of VM `vm`; on any failure nothing made here is left. */
export async function placeIncomingDisks(
  stateDir: string,
  vm: string,
  disks: readonly HelloDisk[],
): Promise<PlacedDisks> {
  const dir = incomingDiskDir(stateDir, vm);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const names: string[] = [];
  for (const [i, d] of disks.entries()) {
    // The name only: the source's folders mean nothing here, and a name is never a path out of dir.
    let n = basename(d.path).replace(/^\.+/, "") || `disk${i}`;
    if (n === MARKER || names.includes(n)) n = `${i}-${n}`;
    names.push(n);
  }
  const made: string[] = [];
  const undo = () => removeListed(dir, made);
  try {
    const marker = await open(join(dir, MARKER), "wx").catch((e: { code?: string }) => {
      throw new MigrationError(
        e.code === "EEXIST"
          ? `${dir} has a migration of VM "${vm}" arriving already`
          : `cannot prepare ${dir}: ${e.code ?? String(e)}`,
      );
    });
    await marker.close();
    for (const [i, d] of disks.entries()) {
      const path = join(dir, names[i]);
      try {
        const f = await open(path, "wx", 0o600);
        await f.close();
      } catch (e) {
        const code = (e as { code?: string }).code;
        throw new MigrationError(
          code === "EEXIST"
            ? `disk ${i}: ${path} exists on the destination, which never overwrites a file it did not create (move or remove it)`
            : `disk ${i}: cannot create ${path}: ${code ?? String(e)}`,
        );
      }
      made.push(names[i]);
      await writeFile(join(dir, MARKER), JSON.stringify({ files: made }));
      try {
        // No backing file: the source sends the flattened contents (migration `sync=full`).
        await createImageFile(path, { format: d.format, size: d.virtualSize });
      } catch (e) {
        throw new MigrationError(`disk ${i}: ${e instanceof UserError ? e.message : String(e)}`);
      }
    }
    syncDir(dir);
  } catch (e) {
    await undo();
    throw e;
  }
  return {
    paths: names.map((n) => join(dir, n)),
    remove: undo,
    keep: async () => {
      await unlink(join(dir, MARKER)).catch(() => {});
    },
  };
}

/**
 * At daemon start: remove the images of copied-storage migrations that never committed (a marker is
 * left) unless `committed(vm)` says the VM is there and no longer `incoming`, when only the marker goes.
 */
export async function sweepIncomingDisks(
  stateDir: string,
  committed: (vm: string) => boolean,
  log: (m: string) => void,
): Promise<void> {
  const root = join(stateDir, "disks");
  const vms = await readdir(root).catch(() => [] as string[]);
  for (const vm of vms) {
    const dir = join(root, vm);
    let text: string;
    try {
      text = await readFile(join(dir, MARKER), "utf8");
    } catch {
      continue;
    }
    if (committed(vm)) {
      await unlink(join(dir, MARKER)).catch(() => {});
      continue;
    }
    let files: string[] = [];
    try {
      const v = JSON.parse(text) as { files?: unknown };
      if (Array.isArray(v.files)) files = v.files.filter((f): f is string => typeof f === "string");
    } catch {}
    // Names only (the marker is ours, but a name with a slash would point elsewhere).
    await removeListed(
      dir,
      files.filter((f) => f === basename(f) && f !== MARKER && f !== ".."),
    );
    log(`VM ${vm}: removed the disks of an incoming migration the daemon did not finish`);
  }
}
