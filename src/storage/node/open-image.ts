/** Node entry points: open or create images on the host file system (used by the CLI and the VMM). */
import type { ImageBackend } from "../image-backend.js";
import { type OpenOptions, openImageOn } from "../open.js";
import { type ImageFormat, probeFormat } from "../probe.js";
import { nodeStorageHost } from "./node-host.js";

/**
 * Open a disk image for a VM or a tool. The format is probed unless given; then `onProbed` is told (the
 * caller warns), a probed raw disk refuses writes that would change the probe's answer (reported through
 * `onWarning`), and a probed image may not open a backing file (open.ts).
 */
export async function openImage(
  path: string,
  opts: Pick<OpenOptions, "format" | "readOnly" | "onProbed" | "onWarning"> = {},
): Promise<ImageBackend> {
  return openImageOn(nodeStorageHost, path, opts);
}

/**
 * The format a probe finds for a file, for callers that record it explicitly (VM definitions): recording
 * it once, when the user defines the VM, means later opens never probe a disk the guest has written.
 */
export async function probeImageFile(path: string): Promise<ImageFormat> {
  const f = await nodeStorageHost.open(path, false);
  try {
    return await probeFormat(f);
  } finally {
    await f.close();
  }
}

/** Like openImage, with the richer ImageBackend interface and tool-only options. */
export async function openImageBackend(path: string, opts: OpenOptions = {}): Promise<ImageBackend> {
  return openImageOn(nodeStorageHost, path, opts);
}
