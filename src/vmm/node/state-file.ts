/**
 * State files on the host: save a paused VM to a file and restore one from it (format in
 * vmm/state-file/format.ts). Saving streams section by section into a temporary file beside the
 * target, fsyncs it and renames it into place, so a failed or killed save leaves any earlier file
 * untouched. Restoring reads and checks the header, checks that the disks are the images the state was
 * saved with, builds a fresh VM, restores and checks every component, then streams RAM in.
 */
import { createHash, randomBytes } from "node:crypto";
import { type FileHandle, open, rename, stat, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { promisify } from "node:util";
import { deflateRaw, inflateRaw, constants as zc } from "node:zlib";
import { errorMessage, UserError } from "../../base/errors.js";
import type { SavedState } from "../../base/state.js";
import { StateFileError } from "../state-file/errors.js";
import {
  CHUNK_PAGES,
  type ChunkCompression,
  type DiskIdentity,
  PAGE_SIZE,
  STATE_ARCH,
  STATE_MACHINE,
  type StateFileHeader,
} from "../state-file/format.js";
import { type ByteSource, StateFileReader } from "../state-file/reader.js";
import { type ByteSink, type StateFileStats, StateFileWriter } from "../state-file/writer.js";
import { TVISOR_VERSION } from "../version.js";
import { VirtualMachine, type VmAttachments } from "../vm.js";
import type { VmHost } from "../vm-host.js";
import { type VmSpec, validateVmSpec } from "../vm-spec.js";

const deflateRawAsync = promisify(deflateRaw);
const inflateRawAsync = promisify(inflateRaw);

/** RAM chunks through node:zlib (on the libuv thread pool, so the event loop stays free). Level 1: RAM is large and mostly compresses on structure, not effort. */
export const nodeChunkCompression: ChunkCompression = {
  async deflate(data) {
    const b = await deflateRawAsync(data, { level: 1 });
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  },
  async inflate(data, maxBytes) {
    // maxOutputLength makes zlib stop (and throw) instead of inflating a bomb.
    const b = await inflateRawAsync(data, {
      maxOutputLength: Math.max(1, maxBytes),
      finishFlush: zc.Z_SYNC_FLUSH,
    });
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  },
};

const IO_BUFFER = 1 << 20;

/** Buffered sequential writes to a file handle. */
class FileSink implements ByteSink {
  private buf = new Uint8Array(IO_BUFFER);
  private used = 0;
  private pos = 0;
  constructor(private readonly fh: FileHandle) {}
  async write(data: Uint8Array): Promise<void> {
    if (data.length >= IO_BUFFER) {
      await this.flush();
      await this.writeAll(data);
      return;
    }
    if (this.used + data.length > IO_BUFFER) await this.flush();
    this.buf.set(data, this.used);
    this.used += data.length;
  }
  private async writeAll(data: Uint8Array): Promise<void> {
    let off = 0;
    while (off < data.length) {
      const { bytesWritten } = await this.fh.write(data, off, data.length - off, this.pos);
      off += bytesWritten;
      this.pos += bytesWritten;
    }
  }
  async flush(): Promise<void> {
    if (this.used === 0) return;
    const full = this.buf.subarray(0, this.used);
    this.buf = new Uint8Array(IO_BUFFER);
    this.used = 0;
    await this.writeAll(full);
  }
}

/** Buffered sequential reads from a file handle. */
class FileSource implements ByteSource {
  private buf = new Uint8Array(0);
  private at = 0;
  private pos = 0;
  private eof = false;
  constructor(private readonly fh: FileHandle) {}
  async read(length: number): Promise<Uint8Array> {
    const out = new Uint8Array(length);
    let got = 0;
    while (got < length) {
      if (this.at === this.buf.length) {
        if (this.eof) break;
        const chunk = new Uint8Array(IO_BUFFER);
        const { bytesRead } = await this.fh.read(chunk, 0, IO_BUFFER, this.pos);
        this.pos += bytesRead;
        if (bytesRead === 0) {
          this.eof = true;
          break;
        }
        this.buf = chunk.subarray(0, bytesRead);
        this.at = 0;
      }
      const n = Math.min(length - got, this.buf.length - this.at);
      out.set(this.buf.subarray(this.at, this.at + n), got);
      this.at += n;
      got += n;
    }
    return got === length ? out : out.subarray(0, got);
  }
}

/** Bytes hashed at the start of an image (qcow2 header, L1 and refcount tables of small images; a raw disk's partition table and superblocks). */
const SAMPLE_HEAD = 64 * 1024;
const SAMPLE_BLOCKS = 64;
const SAMPLE_BLOCK = 4096;

/**
 * What identifies the image file at `path` now: its size and modification time (which any write
 * changes) and a SHA-256 over its first 64 KiB and 64 blocks spread evenly across it (which tells a
 * different or re-created image apart even when copied with its timestamps).
 */
export async function diskFileIdentity(
  path: string,
): Promise<{ fileSize: number; mtimeMs: number; sample: string }> {
  const fh = await open(path, "r");
  try {
    const st = await fh.stat();
    const hash = createHash("sha256");
    const head = new Uint8Array(Math.min(SAMPLE_HEAD, st.size));
    await fh.read(head, 0, head.length, 0);
    hash.update(head);
    const block = new Uint8Array(SAMPLE_BLOCK);
    for (let i = 0; i < SAMPLE_BLOCKS && st.size > SAMPLE_HEAD; i++) {
      const off = SAMPLE_HEAD + Math.floor(((st.size - SAMPLE_HEAD) * i) / SAMPLE_BLOCKS);
      const { bytesRead } = await fh.read(block, 0, SAMPLE_BLOCK, off);
      hash.update(block.subarray(0, bytesRead));
    }
    return { fileSize: st.size, mtimeMs: Math.floor(st.mtimeMs), sample: hash.digest("hex") };
  } finally {
    await fh.close();
  }
}

/** What saveVmToFile wrote. */
export interface SaveResult extends StateFileStats {
  path: string;
  header: StateFileHeader;
}

/**
 * Save a paused VM (stopped, run() returned) to `path`: disk requests in flight finish and the disks
 * are flushed first, then the header, every component and RAM are streamed to a temporary file in the
 * same directory, which is fsynced and renamed over `path`. On any failure the temporary file is
 * removed and `path` is as it was. The VM stays paused; resume it with resume() or close it.
 */
export async function saveVmToFile(vm: VirtualMachine, path: string): Promise<SaveResult> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  // Checked before the temporary file exists, so a VM that cannot be saved leaves nothing behind.
  pausedBoard(vm);
  let fh: FileHandle;
  try {
    fh = await open(tmp, "wx", 0o600);
  } catch (e) {
    throw new UserError(`cannot write state file ${path}: ${ioWhy(e)}`);
  }
  try {
    const sink = new FileSink(fh);
    const { stats, header } = await writeVmState(vm, sink);
    await sink.flush();
    await fh.sync();
    await fh.close();
    await rename(tmp, path);
    await syncDir(dirname(path));
    return { ...stats, path, header };
  } catch (e) {
    await fh.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    if (e instanceof UserError) throw e;
    throw new UserError(`cannot write state file ${path}: ${ioWhy(e)}`);
  }
}

function pausedBoard(vm: VirtualMachine): NonNullable<VirtualMachine["machine"]> {
  const board = vm.machine;
  if (board === null) throw new UserError("cannot save: the VM has not started");
  if (vm.isRunning) throw new UserError("cannot save a running VM: pause it first");
  return board;
}

/**
 * Stream a paused VM's state (the state-file format: header, components, RAM) into `sink`: disk requests
 * in flight finish and the disks are flushed first. The same bytes go to a state file or, for a snapshot,
 * into a qcow2 image's VM-state area.
 */
export async function writeVmState(
  vm: VirtualMachine,
  sink: ByteSink,
): Promise<{ stats: StateFileStats; header: StateFileHeader }> {
  const board = pausedBoard(vm);
  await vm.quiesce();
  const header = await stateHeader(vm, board.componentNames());
  const components = board.saveComponents();
  const w = new StateFileWriter(sink, nodeChunkCompression);
  await w.begin(header);
  for (const [name, state] of components) await w.component(name, state);
  await w.ram(board.ram.u8);
  return { stats: await w.end(), header };
}

/**
 * The HEADER of a VM's state now: versions, spec, RAM geometry, the component names and each disk's
 * identity (read from its file: call it after the disks were flushed for a state file to be checked).
 */
export async function stateHeader(vm: VirtualMachine, components: string[]): Promise<StateFileHeader> {
  const disks: DiskIdentity[] = [];
  for (const [i, d] of vm.spec.disks.entries()) {
    const backend = vm.diskBackends[i];
    disks.push({
      path: d.path,
      format: backend.format,
      virtualSize: backend.size,
      ...(await diskFileIdentity(d.path)),
    });
  }
  return {
    tvisor: TVISOR_VERSION,
    arch: STATE_ARCH,
    machine: STATE_MACHINE,
    createdAt: new Date().toISOString(),
    spec: vm.spec,
    ramBytes: vm.spec.memBytes,
    pageSize: PAGE_SIZE,
    chunkPages: CHUNK_PAGES,
    components,
    disks,
  };
}

/** fsync a directory so a rename in it survives a crash (POSIX: the rename is durable once the directory is). */
async function syncDir(dir: string): Promise<void> {
  const d = await open(dir, "r");
  try {
    await d.sync();
  } catch {
    // Some filesystems refuse fsync on a directory; the rename still happened.
  } finally {
    await d.close();
  }
}

function ioWhy(e: unknown): string {
  const code = (e as { code?: string }).code;
  if (code === "ENOENT") return "no such file or directory";
  if (code === "EACCES" || code === "EPERM") return "permission denied";
  if (code === "EISDIR") return "is a directory";
  if (code === "ENOSPC") return "no space left on device";
  return code ?? errorMessage(e);
}

async function openStateFile(path: string): Promise<FileHandle> {
  try {
    const st = await stat(path);
    if (!st.isFile()) throw new UserError(`state file ${path}: not a regular file`);
    return await open(path, "r");
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(`cannot read state file ${path}: ${ioWhy(e)}`);
  }
}

/** Name the file in a StateFileError's one line. */
function inFile(path: string, e: unknown): unknown {
  if (e instanceof StateFileError) return new StateFileError(e.problem, `${path}: ${e.detail}`, e.offset);
  return e;
}

/** Read and check only the header: the spec, versions and disk identities, without building anything. */
export async function readStateFileHeader(path: string): Promise<StateFileHeader> {
  const fh = await openStateFile(path);
  try {
    return await new StateFileReader(new FileSource(fh), nodeChunkCompression).header();
  } catch (e) {
    throw inFile(path, e);
  } finally {
    await fh.close();
  }
}

/** Spec fields a restore may change: none of them changes the machine's shape. */
export type RestoreOverrides = Partial<
  Pick<VmSpec, "noReboot" | "kernel" | "initrd" | "append" | "vmIndex" | "name" | "jit" | "jitCacheSize">
>;

const OVERRIDABLE = ["noReboot", "kernel", "initrd", "append", "vmIndex", "name", "jit", "jitCacheSize"];

export interface RestoreOptions {
  /** NIC backends and a separate virtio-console backend, as for new VirtualMachine(). */
  attachments?: VmAttachments;
  overrides?: RestoreOverrides;
}

/** Check that each disk at its path is the image the state was saved with; "incompatible" otherwise. */
async function checkDisks(header: StateFileHeader): Promise<void> {
  for (const [i, d] of header.disks.entries()) {
    let now: Awaited<ReturnType<typeof diskFileIdentity>>;
    try {
      now = await diskFileIdentity(d.path);
    } catch (e) {
      throw new StateFileError("incompatible", `disk ${i} (${d.path}) cannot be read: ${ioWhy(e)}`);
    }
    if (now.sample !== d.sample || now.fileSize !== d.fileSize)
      throw new StateFileError(
        "incompatible",
        `disk ${i} (${d.path}) is not the image the state was saved with`,
      );
    if (now.mtimeMs !== d.mtimeMs)
      throw new StateFileError(
        "incompatible",
        `disk ${i} (${d.path}) was modified after the state was saved (mtime ${new Date(d.mtimeMs).toISOString()} then, ${new Date(now.mtimeMs).toISOString()} now)`,
      );
  }
}

/**
 * Build a new VM from a state file and restore it, paused: call resume() (or run()) to continue it.
 * The header, the disks' identities, every component's state and every RAM chunk are checked; on any
 * error the VM is closed and a one-line StateFileError (or UserError) says why. `host` provides the
 * console, clock and disk access as for a new VM.
 */
export async function restoreVmFromFile(
  path: string,
  host: VmHost,
  opts: RestoreOptions = {},
): Promise<VirtualMachine> {
  const fh = await openStateFile(path);
  try {
    return await restoreVmFromSource(new FileSource(fh), host, opts, true);
  } catch (e) {
    throw inFile(path, e);
  } finally {
    await fh.close();
  }
}

/**
 * Build a new VM from state-file bytes and restore it, paused. `checkDiskIdentity` holds the disks to the
 * identities the header recorded (a state file); a snapshot's state is restored after its disks were
 * reverted with it, so their files have changed and only their format and size are checked.
 */
export async function restoreVmFromSource(
  source: ByteSource,
  host: VmHost,
  opts: RestoreOptions,
  checkDiskIdentity: boolean,
): Promise<VirtualMachine> {
  let vm: VirtualMachine | null = null;
  try {
    const reader = new StateFileReader(source, nodeChunkCompression);
    const header = await reader.header();
    const overrides = opts.overrides ?? {};
    for (const k of Object.keys(overrides))
      if (!OVERRIDABLE.includes(k))
        throw new UserError(`restore cannot change ${k}: it shapes the saved machine`);
    const spec = validateVmSpec({ ...header.spec, ...overrides });
    if (checkDiskIdentity) await checkDisks(header);
    vm = new VirtualMachine(spec, host, opts.attachments);
    const disks = header.disks;
    await vm.restoreWith(async (board) => {
      // Every disk must also open as the same format and size it had.
      vm!.diskBackends.forEach((b, i) => {
        if (b.format !== disks[i].format || b.size !== disks[i].virtualSize)
          throw new StateFileError(
            "incompatible",
            `disk ${i} (${disks[i].path}) opens as ${b.format} of ${b.size} bytes, saved as ${disks[i].format} of ${disks[i].virtualSize}`,
          );
      });
      const expected = board.componentNames();
      if (expected.join(",") !== header.components.join(","))
        throw new StateFileError(
          "invalid",
          `header: components ${header.components.join(",")} do not match the spec's machine (${expected.join(",")})`,
        );
      const ramTarget = {
        size: board.ram.size,
        write: (offset: number, data: Uint8Array) => {
          board.ram.write(board.ram.base + offset, data);
        },
      };
      // A pre-copy stream (a running VM's snapshot) holds RAM first, as a migration stream does.
      if (reader.precopy) await reader.ram(ramTarget);
      const parts = await reader.components(expected);
      try {
        board.restoreComponents(parts as Map<string, SavedState>);
      } catch (e) {
        if (e instanceof UserError && !(e instanceof StateFileError))
          throw new StateFileError("invalid", e.message);
        throw e;
      }
      if (!reader.precopy) await reader.ram(ramTarget);
      await reader.end();
    });
    return vm;
  } catch (e) {
    await vm?.close().catch(() => {});
    throw e;
  }
}
