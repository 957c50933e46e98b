/** Node entry points: open or create images on the host file system (used by the CLI and the VMM). */
import type { BlockBackend } from "../../io/block-backend.js";
import type { ImageBackend } from "../image-backend.js";
import { type OpenOptions, openImageOn } from "../open.js";
import { nodeStorageHost } from "./node-host.js";

/** Open a disk image for a VM or a tool. The format is probed unless given. */
export async function openImage(
  path: string,
  opts: { format?: string; readOnly?: boolean } = {},
): Promise<BlockBackend> {
  return openImageOn(nodeStorageHost, path, opts);
}

/** Like openImage, with the richer ImageBackend interface and tool-only options. */
export async function openImageBackend(path: string, opts: OpenOptions = {}): Promise<ImageBackend> {
  return openImageOn(nodeStorageHost, path, opts);
}
