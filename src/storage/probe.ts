/** Format detection by magic numbers, as qemu-img probes: qcow2, VMDK, VDI, VHD ("vpc"), else raw. */
import { be32, le32 } from "./bytes.js";
import type { FileHandle } from "./file-handle.js";

export type ImageFormat = "raw" | "qcow2" | "vmdk" | "vdi" | "vpc";

export const FORMATS: readonly ImageFormat[] = ["raw", "qcow2", "vmdk", "vdi", "vpc"];

export function parseFormat(name: string): ImageFormat {
  const f = name === "vhd" ? "vpc" : name;
  if (!(FORMATS as readonly string[]).includes(f)) {
    throw new Error(`unknown image format '${name}' (supported: ${FORMATS.join(", ")})`);
  }
  return f as ImageFormat;
}

export async function probeFormat(file: FileHandle): Promise<ImageFormat> {
  const head = new Uint8Array(512);
  const n = await file.read(0, head);
  if (n >= 4 && be32(head, 0) === 0x514649fb) return "qcow2";
  if (n >= 4 && le32(head, 0) === 0x564d444b) return "vmdk"; // "KDMV"
  if (n >= 0x44 && le32(head, 0x40) === 0xbeda107f) return "vdi";
  const cookie = new TextDecoder().decode(head.subarray(0, 8));
  if (cookie === "conectix") return "vpc";
  const size = await file.size();
  if (size >= 512) {
    const foot = new Uint8Array(8);
    await file.read(size - 512, foot);
    if (new TextDecoder().decode(foot) === "conectix") return "vpc";
  }
  return "raw";
}
