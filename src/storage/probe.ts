/**
 * Format detection by magic numbers, as qemu-img probes: qcow2, VMDK, VDI, VHD ("vpc"), else raw. The probe
 * looks only at two windows of the file (the first 512 bytes and the last 512, where a fixed VHD keeps its
 * footer), so a raw disk's guard (raw-image.ts) can tell whether a guest write would change the outcome.
 */
import { be32, le32 } from "./bytes.js";
import type { FileHandle } from "./file-handle.js";

export type ImageFormat = "raw" | "qcow2" | "vmdk" | "vdi" | "vpc";

export const FORMATS: readonly ImageFormat[] = ["raw", "qcow2", "vmdk", "vdi", "vpc"];

/** Bytes the probe reads at the start of the file and at its end. */
export const PROBE_WINDOW = 512;

export function parseFormat(name: string): ImageFormat {
  const f = name === "vhd" ? "vpc" : name;
  if (!(FORMATS as readonly string[]).includes(f)) {
    throw new Error(`unknown image format '${name}' (supported: ${FORMATS.join(", ")})`);
  }
  return f as ImageFormat;
}

const CONECTIX = [0x63, 0x6f, 0x6e, 0x65, 0x63, 0x74, 0x69, 0x78]; // "conectix" (VHD cookie)

function isConectix(b: Uint8Array | null): boolean {
  if (!b || b.length < 8) return false;
  for (let i = 0; i < 8; i++) if (b[i] !== CONECTIX[i]) return false;
  return true;
}

/**
 * The format two probe windows say: `head` holds the file's first bytes (up to PROBE_WINDOW, shorter for a
 * short file) and `foot` its last PROBE_WINDOW bytes (null when the file is shorter than that).
 * Signatures: qcow2 spec "QFI\xfb" at 0; VMDK 5.0 sparse extent "KDMV" at 0; VDI pre-header signature
 * 0xbeda107f at 0x40; VHD footer cookie "conectix" at 0 (dynamic images keep a footer copy there) or at
 * the start of the last 512 bytes (fixed images).
 */
export function probeSignature(head: Uint8Array, foot: Uint8Array | null): ImageFormat {
  const n = head.length;
  if (n >= 4 && be32(head, 0) === 0x514649fb) return "qcow2";
  if (n >= 4 && le32(head, 0) === 0x564d444b) return "vmdk";
  if (n >= 0x44 && le32(head, 0x40) === 0xbeda107f) return "vdi";
  if (isConectix(head)) return "vpc";
  if (isConectix(foot)) return "vpc";
  return "raw";
}

/** Read the probe windows of a file of the given size. */
export async function readProbeWindows(
  file: FileHandle,
  size: number,
): Promise<{ head: Uint8Array; foot: Uint8Array | null }> {
  const head = new Uint8Array(Math.min(PROBE_WINDOW, size));
  const n = await file.read(0, head);
  let foot: Uint8Array | null = null;
  if (size >= PROBE_WINDOW) {
    foot = new Uint8Array(PROBE_WINDOW);
    const m = await file.read(size - PROBE_WINDOW, foot);
    if (m < PROBE_WINDOW) foot.fill(0, m);
  }
  return { head: head.subarray(0, n), foot };
}

export async function probeFormat(file: FileHandle): Promise<ImageFormat> {
  const { head, foot } = await readProbeWindows(file, await file.size());
  return probeSignature(head, foot);
}
