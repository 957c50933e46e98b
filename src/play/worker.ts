/**
 * The VM in a Web Worker: the same VirtualMachine, board, devices and CPU as `tvisor run`, with the
 * browser's host services. The page sends boot/restore/input/save; the worker sends console output,
 * status, stats and saved state files back.
 */
import { errorMessage } from "../base/errors.js";
import { BUNDLED_INITRD, BUNDLED_KERNEL } from "../vmm/bundled-guest.js";
import type { CharBackend } from "../vmm/host-contracts.js";
import { StateFileReader } from "../vmm/state-file/reader.js";
import { VirtualMachine, type VmExit } from "../vmm/vm.js";
import { validateVmSpec } from "../vmm/vm-spec.js";
import { browserHost } from "./browser-host.js";
import type { DiskSource, FromWorker, ToWorker } from "./messages.js";
import { OverlayFile } from "./overlay-file.js";
import { BlobSource, fflateCompression, restoreVmFromBlob, saveVmToBlob } from "./state-blob.js";

const MIB = 1024 * 1024;
/** Console output is gathered and posted once per task, not per byte the UART emits. */
const OUTPUT_FLUSH_BYTES = 16 * 1024;

const scope = self as unknown as {
  postMessage(m: FromWorker, transfer?: Transferable[]): void;
  addEventListener(type: "message", fn: (e: MessageEvent<ToWorker>) => void): void;
};
const post = (m: FromWorker, transfer?: Transferable[]) => scope.postMessage(m, transfer);

let vm: VirtualMachine | null = null;
let running: Promise<VmExit> | null = null;
let bootedAt = 0;
let inputHandler: ((d: Uint8Array) => void) | null = null;
/** Keys typed before the VM exists (boot or restore still loading), bounded like the board's queue. */
let early: Uint8Array[] = [];
let earlyBytes = 0;
const EARLY_MAX = 64 * 1024;
const disks = new Map<string, OverlayFile>();

let pending: Uint8Array[] = [];
let pendingBytes = 0;
let flushScheduled = false;
function flushOutput(): void {
  flushScheduled = false;
  if (pendingBytes === 0) return;
  const out = new Uint8Array(pendingBytes);
  let at = 0;
  for (const p of pending) {
    out.set(p, at);
    at += p.length;
  }
  pending = [];
  pendingBytes = 0;
  post({ t: "output", data: out }, [out.buffer]);
}

const consoleBackend: CharBackend = {
  write(data) {
    pending.push(data.slice());
    pendingBytes += data.length;
    if (pendingBytes >= OUTPUT_FLUSH_BYTES) flushOutput();
    else if (!flushScheduled) {
      flushScheduled = true;
      setTimeout(flushOutput, 0);
    }
  },
  onInput(handler) {
    inputHandler = handler;
    for (const d of early) handler(d);
    early = [];
    earlyBytes = 0;
  },
};

const log = (msg: string) => post({ t: "status", state: "running", text: msg });

function useDisk(d: DiskSource | undefined, path?: string): void {
  disks.clear();
  if (!d) return;
  const f = d.blob as Blob & { lastModified?: number };
  disks.set(path ?? d.name, new OverlayFile(path ?? d.name, d.blob, f.lastModified ?? 0));
}

function run(v: VirtualMachine, start: () => Promise<VmExit>): void {
  vm = v;
  bootedAt = performance.now();
  post({ t: "status", state: "running", text: "running" });
  const p = start();
  running = p;
  p.then(
    (exit) => {
      if (running !== p) return;
      running = null;
      flushOutput();
      if (exit.kind !== "stopped")
        post({
          t: "status",
          state: "stopped",
          text: `the guest ended (${exit.kind === "fail" ? `fail ${exit.code}` : exit.kind})`,
        });
    },
    (e) => {
      running = null;
      flushOutput();
      post({ t: "status", state: "failed", text: errorMessage(e) });
    },
  );
}

async function stopVm(): Promise<void> {
  if (!vm) return;
  const r = running;
  vm.stop();
  if (r) await r.catch(() => {});
}

async function handle(m: ToWorker): Promise<void> {
  switch (m.t) {
    case "input":
      if (inputHandler) inputHandler(m.data);
      else if (earlyBytes + m.data.length <= EARLY_MAX) {
        early.push(m.data);
        earlyBytes += m.data.length;
      }
      return;
    case "boot": {
      await stopVm();
      post({ t: "status", state: "booting", text: "booting" });
      useDisk(m.disk);
      const spec = validateVmSpec({
        kernel: BUNDLED_KERNEL,
        initrd: BUNDLED_INITRD,
        memBytes: m.memMiB * MIB,
        cpus: 1,
        jit: m.jit,
        disks: m.disk ? [{ path: m.disk.name, format: m.disk.format, readOnly: false }] : [],
      });
      const v = new VirtualMachine(spec, browserHost(m.images, disks, consoleBackend, log));
      await v.prepare();
      run(v, () => v.run());
      return;
    }
    case "restore": {
      await stopVm();
      post({ t: "status", state: "booting", text: "restoring" });
      // The saved spec names its disk; the picked disk takes that name.
      const header = await new StateFileReader(new BlobSource(m.state), fflateCompression)
        .header()
        .catch(() => null);
      useDisk(m.disk, header?.spec.disks[0]?.path);
      const v = await restoreVmFromBlob(m.state, browserHost(m.images, disks, consoleBackend, log));
      run(v, () => v.resume());
      return;
    }
    case "save": {
      const v = vm;
      if (!v) throw new Error("nothing to save: no VM has started");
      post({ t: "status", state: "saving", text: "saving" });
      await stopVm();
      const t0 = performance.now();
      const blob = await saveVmToBlob(v, disks);
      post({ t: "saved", blob, bytes: blob.size, ms: performance.now() - t0 });
      run(v, () => v.resume());
      return;
    }
  }
}

scope.addEventListener("message", (e) => {
  handle(e.data).catch((err) => post({ t: "status", state: "failed", text: errorMessage(err) }));
});

// Progress for the page (and the time-to-shell figure): guest instructions retired so far.
setInterval(() => {
  if (vm) post({ t: "stats", instructions: vm.instret, sinceBootMs: performance.now() - bootedAt });
}, 1000);
