/** A VM's configuration as the user states it, plus the parsers for QEMU-style option values. */
import { UserError } from "../base/errors.js";

export interface DiskConfig {
  path: string;
  format?: "raw" | "qcow2";
  readOnly: boolean;
}

export interface VmConfig {
  /** Linux kernel (Image or Image.gz), or with bios "none" a bare ELF program. */
  kernel?: string;
  initrd?: string;
  append?: string;
  /** "builtin" (host-side SBI), "none" (bare program, HTIF) or a path to M-mode firmware. */
  bios: string;
  memBytes: number;
  cpus: number;
  disks: DiskConfig[];
  /** Attach a virtio-rng device (/dev/hwrng). */
  rng: boolean;
}

/** Default kernel command line: the ns16550a console, and SBI early console until it is up. */
export const DEFAULT_APPEND = "console=ttyS0 earlycon=sbi";
export const DEFAULT_MEM_BYTES = 256 * 1024 * 1024;

/** QEMU -m syntax: a number with optional suffix K, M, G (binary units); a bare number means MiB. */
export function parseMemSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kKmMgG])?(i?[bB])?$/.exec(text.trim());
  if (!m) throw new UserError(`--mem: cannot parse "${text}" (use e.g. 256M or 1G)`);
  const unit = (m[2] ?? "M").toUpperCase();
  const mult = unit === "K" ? 1024 : unit === "M" ? 1024 ** 2 : 1024 ** 3;
  const bytes = Math.round(Number(m[1]) * mult);
  if (bytes < 16 * 1024 ** 2) throw new UserError(`--mem: ${text} is too small (minimum 16M)`);
  // RAM is one ArrayBuffer; the memory map leaves room for 2 GiB below 4 GiB... and JS caps buffers.
  if (bytes > 16 * 1024 ** 3) throw new UserError(`--mem: ${text} is too large (maximum 16G)`);
  return bytes - (bytes % 4096);
}

/** --cpus N: 1..8 harts. */
export function parseCpus(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || n < 1 || n > 8)
    throw new UserError(`--cpus: expected 1..8, got "${text}"`);
  return n;
}

/** --disk PATH[,format=raw|qcow2][,readonly=on|off] (QEMU -drive style options). */
export function parseDiskSpec(text: string): DiskConfig {
  const parts = text.split(",");
  const path = parts[0];
  if (!path) throw new UserError(`--disk: missing path in "${text}"`);
  const disk: DiskConfig = { path, readOnly: false };
  for (const opt of parts.slice(1)) {
    const eq = opt.indexOf("=");
    const key = eq < 0 ? opt : opt.slice(0, eq);
    const value = eq < 0 ? "" : opt.slice(eq + 1);
    if (key === "format") {
      if (value !== "raw" && value !== "qcow2")
        throw new UserError(`--disk: unknown format "${value}" (raw or qcow2)`);
      disk.format = value;
    } else if (key === "readonly") {
      if (!["on", "off", "true", "false", ""].includes(value)) {
        throw new UserError(`--disk: readonly must be on or off, got "${value}"`);
      }
      disk.readOnly = value === "on" || value === "true" || value === "";
    } else {
      throw new UserError(`--disk: unknown option "${key}" in "${text}"`);
    }
  }
  return disk;
}
