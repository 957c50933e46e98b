/** The VM's host services in a Web Worker: the bundled guest's files, the picked disk, gzip, clocks, entropy. */
import { UserError } from "../base/errors.js";
import { openImageOn } from "../storage/open.js";
import { BUNDLED_INITRD, BUNDLED_KERNEL, bundledName } from "../vmm/bundled-guest.js";
import type { CharBackend, VmHost } from "../vmm/host-contracts.js";
import { browserStorage } from "./browser-storage.js";
import type { BootImages } from "./messages.js";
import type { OverlayFile } from "./overlay-file.js";

/**
 * Gunzip with the browser's DecompressionStream (Compression Streams, "gzip" = RFC 1952), stopping as
 * soon as the output passes `maxBytes`, so a gzip bomb costs no more than the limit.
 */
async function gunzip(data: Uint8Array, maxBytes = Number.MAX_SAFE_INTEGER): Promise<Uint8Array> {
  const stream = new Blob([data as Uint8Array<ArrayBuffer>])
    .stream()
    .pipeThrough(new DecompressionStream("gzip"));
  const reader = stream.getReader();
  const parts: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    let r: ReadableStreamReadResult<Uint8Array>;
    try {
      r = await reader.read();
    } catch (e) {
      throw new UserError(`corrupt gzip data (${e instanceof Error ? e.message : String(e)})`);
    }
    if (r.done) break;
    total += r.value.length;
    if (total > maxBytes) {
      await reader.cancel();
      throw new UserError(`gzip data inflates to more than ${maxBytes} bytes`);
    }
    parts.push(r.value);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function browserHost(
  images: BootImages,
  disks: Map<string, OverlayFile>,
  console: CharBackend,
  log: (msg: string) => void,
): VmHost {
  const storage = browserStorage(disks);
  return {
    readFile: async (path, what, maxBytes, limitReason) => {
      // The bundled guest under its portable name, or a Node state file's host path to the same file.
      const name = bundledName(path) ?? path.split("/").pop() ?? "";
      const data =
        name === bundledName(BUNDLED_KERNEL)
          ? images.kernel
          : name === bundledName(BUNDLED_INITRD)
            ? images.initrd
            : null;
      if (data === null)
        throw new UserError(`${what}: ${path} is not available in the browser (only the bundled guest is)`);
      if (data.length > maxBytes)
        throw new UserError(
          `${what}: ${path} is larger than ${maxBytes} bytes${limitReason ? ` (${limitReason})` : ""}`,
        );
      return data;
    },
    openDisk: (path, opts) => openImageOn(storage, path, { ...opts, onWarning: log }),
    openNic: async () => {
      // A page has no sockets or TAP devices; a NIC would need a relay through a server (not built).
      throw new UserError("network interfaces are not available in the browser");
    },
    gunzip,
    clock: {
      nowNs: () => performance.now() * 1e6,
      wallNs: () => Date.now() * 1e6,
    },
    console,
    entropy: (buf) => {
      // getRandomValues fills at most 65536 bytes per call (WebCrypto §10.1.1).
      for (let i = 0; i < buf.length; i += 65536)
        crypto.getRandomValues(buf.subarray(i, Math.min(buf.length, i + 65536)));
    },
    log,
  };
}
