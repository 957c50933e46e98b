/**
 * State files in the page: the same format and the same writer and reader as Node's (vmm/state-file/),
 * written into a Blob the page offers as a download, read back from a File the user picks. RAM chunks
 * are raw DEFLATE (RFC 1951) through fflate, as node:zlib writes them.
 */
import { deflateSync, Inflate } from "fflate";
import { UserError } from "../base/errors.js";
import type { SavedState } from "../base/state.js";
import { StateFileError } from "../vmm/state-file/errors.js";
import {
  CHUNK_PAGES,
  type ChunkCompression,
  type DiskIdentity,
  PAGE_SIZE,
  STATE_ARCH,
  STATE_MACHINE,
  type StateFileHeader,
} from "../vmm/state-file/format.js";
import { type ByteSource, StateFileReader } from "../vmm/state-file/reader.js";
import { type ByteSink, StateFileWriter } from "../vmm/state-file/writer.js";
import { TVISOR_VERSION } from "../vmm/version.js";
import { VirtualMachine } from "../vmm/vm.js";
import type { VmHost } from "../vmm/vm-host.js";
import { validateVmSpec } from "../vmm/vm-spec.js";
import type { OverlayFile } from "./overlay-file.js";

export const fflateCompression: ChunkCompression = {
  async deflate(data) {
    return deflateSync(data, { level: 1 });
  },
  async inflate(data, maxBytes) {
    const parts: Uint8Array[] = [];
    let total = 0;
    const inf = new Inflate((chunk) => {
      total += chunk.length;
      // Refuse a bomb as soon as it passes the bound, as node:zlib's maxOutputLength does.
      if (total > maxBytes)
        throw new StateFileError("corrupt", `a RAM chunk inflates past ${maxBytes} bytes`);
      parts.push(chunk);
    });
    inf.push(data, true);
    const out = new Uint8Array(total);
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  },
};

class BlobSink implements ByteSink {
  readonly parts: Uint8Array[] = [];
  async write(data: Uint8Array): Promise<void> {
    // The writer reuses its buffers: keep a copy.
    this.parts.push(data.slice());
  }
}

/** Sequential reads from a Blob (a picked File). */
export class BlobSource implements ByteSource {
  private pos = 0;
  constructor(private readonly blob: Blob) {}
  async read(length: number): Promise<Uint8Array> {
    const end = Math.min(this.blob.size, this.pos + length);
    const out = new Uint8Array(await this.blob.slice(this.pos, end).arrayBuffer());
    this.pos = end;
    return out;
  }
}

/** The identity Node's diskFileIdentity computes: size, mtime, SHA-256 of the first 64 KiB and 64 spread 4 KiB blocks. */
async function diskIdentity(f: OverlayFile): Promise<{ fileSize: number; mtimeMs: number; sample: string }> {
  const size = await f.size();
  const head = new Uint8Array(Math.min(64 * 1024, size));
  await f.read(0, head);
  const parts: Uint8Array[] = [head];
  for (let i = 0; i < 64 && size > 64 * 1024; i++) {
    const off = 64 * 1024 + Math.floor(((size - 64 * 1024) * i) / 64);
    const b = new Uint8Array(4096);
    const n = await f.read(off, b);
    parts.push(b.subarray(0, n));
  }
  const all = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", all));
  const sample = [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
  return { fileSize: size, mtimeMs: Math.floor(f.lastModified), sample };
}

/** Save a paused VM (run() returned) into a Blob. The VM stays paused. */
export async function saveVmToBlob(vm: VirtualMachine, disks: Map<string, OverlayFile>): Promise<Blob> {
  const board = vm.machine;
  if (board === null) throw new UserError("cannot save: the VM has not started");
  await vm.quiesce();
  const ids: DiskIdentity[] = [];
  for (const [i, d] of vm.spec.disks.entries()) {
    const f = disks.get(d.path);
    if (!f) throw new UserError(`disk ${d.path} is gone`);
    ids.push({
      path: d.path,
      format: vm.diskBackends[i].format,
      virtualSize: vm.diskBackends[i].size,
      ...(await diskIdentity(f)),
    });
  }
  const components = board.saveComponents();
  const header: StateFileHeader = {
    tvisor: TVISOR_VERSION,
    arch: STATE_ARCH,
    machine: STATE_MACHINE,
    createdAt: new Date().toISOString(),
    spec: vm.spec,
    ramBytes: board.ram.size,
    pageSize: PAGE_SIZE,
    chunkPages: CHUNK_PAGES,
    components: components.map(([name]) => name),
    disks: ids,
  };
  const sink = new BlobSink();
  const w = new StateFileWriter(sink, fflateCompression);
  await w.begin(header);
  for (const [name, state] of components) await w.component(name, state);
  await w.ram(board.ram.u8);
  await w.end();
  return new Blob(sink.parts as BlobPart[], { type: "application/octet-stream" });
}

/**
 * Build a VM from a state file Blob, paused (call resume()). Checked as Node checks: the header, every
 * component and every RAM chunk; a disk must open as the format and size it was saved with (its file
 * identity is not compared: the page's disk is a copy, not the host file).
 */
export async function restoreVmFromBlob(blob: Blob, host: VmHost): Promise<VirtualMachine> {
  const reader = new StateFileReader(new BlobSource(blob), fflateCompression);
  const header = await reader.header();
  const spec = validateVmSpec({ ...header.spec });
  const vm = new VirtualMachine(spec, host);
  try {
    await vm.restoreWith(async (board) => {
      vm.diskBackends.forEach((b, i) => {
        const d = header.disks[i];
        if (b.format !== d.format || b.size !== d.virtualSize)
          throw new StateFileError(
            "incompatible",
            `disk ${i} (${d.path}) opens as ${b.format} of ${b.size} bytes, saved as ${d.format} of ${d.virtualSize}`,
          );
      });
      const expected = board.componentNames();
      if (expected.join(",") !== header.components.join(","))
        throw new StateFileError(
          "invalid",
          `header: components ${header.components.join(",")} do not match the machine`,
        );
      const parts = await reader.components(expected);
      board.restoreComponents(parts as Map<string, SavedState>);
      await reader.ram({
        size: board.ram.size,
        write: (offset, data) => board.ram.write(board.ram.base + offset, data),
      });
      await reader.end();
    });
  } catch (e) {
    await vm.close().catch(() => {});
    throw e;
  }
  return vm;
}
