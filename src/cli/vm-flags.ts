/**
 * The VM flags of `tvisor run` (and the daemon's verbs that take the same flags): QEMU-style option
 * syntax parsed into a VmSpec, and the VMM's typed FieldErrors turned back into flag names. This is the
 * only place that knows both a flag's spelling and the spec field it sets.
 */
import { FieldError, UserError } from "../base/errors.js";
import {
  CONSOLE_DEVICES,
  type ConsoleDevice,
  DISK_FORMATS,
  type DiskFormat,
  type DiskSpec,
  MAX_CPUS,
  MAX_MEM_BYTES,
  MIN_MEM_BYTES,
} from "../vmm/vm-spec.js";

const MIB = 1024 * 1024;

/** QEMU -m syntax: a number with optional suffix K, M, G (binary units); a bare number means MiB. */
export function parseMemSize(text: string, min = MIN_MEM_BYTES, flag = "--mem"): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kKmMgG])?(i?[bB])?$/.exec(text.trim());
  if (!m) throw new UserError(`${flag}: cannot parse "${text}" (use e.g. 256M or 1G)`);
  const unit = (m[2] ?? "M").toUpperCase();
  const mult = unit === "K" ? 1024 : unit === "M" ? MIB : 1024 * MIB;
  const bytes = Math.round(Number(m[1]) * mult);
  if (!(bytes >= min)) throw new UserError(`${flag}: ${text} is too small (minimum ${min / MIB}M)`);
  if (bytes > MAX_MEM_BYTES)
    throw new UserError(`${flag}: ${text} is too large (maximum ${MAX_MEM_BYTES / (1024 * MIB)}G)`);
  // Whole pages, as QEMU rounds -m.
  return bytes - (bytes % 4096);
}

/** --cpus N: 1..MAX_CPUS harts. */
export function parseCpus(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || n < 1 || n > MAX_CPUS)
    throw new UserError(`--cpus: expected 1..${MAX_CPUS}, got "${text}"`);
  return n;
}

/** --disk PATH[,format=raw|qcow2][,readonly=on|off] (QEMU -drive style options). */
export function parseDiskSpec(text: string): DiskSpec {
  const parts = text.split(",");
  const path = parts[0];
  if (!path) throw new UserError(`--disk: missing path in "${text}"`);
  const disk: DiskSpec = { path, readOnly: false };
  for (const opt of parts.slice(1)) {
    const eq = opt.indexOf("=");
    const key = eq < 0 ? opt : opt.slice(0, eq);
    const value = eq < 0 ? "" : opt.slice(eq + 1);
    if (key === "format") {
      if (!(DISK_FORMATS as readonly string[]).includes(value))
        throw new UserError(`--disk: unknown format "${value}" (${DISK_FORMATS.join(" or ")})`);
      disk.format = value as DiskFormat;
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

/** --console uart|virtio. */
export function parseConsoleDevice(text: string): ConsoleDevice {
  if ((CONSOLE_DEVICES as readonly string[]).includes(text)) return text as ConsoleDevice;
  throw new UserError(`--console: expected ${CONSOLE_DEVICES.join(" or ")}, got "${text}"`);
}

/** The flag that sets each spec field (and the board's `harts`, which `--cpus` sets). */
const FLAG_OF_FIELD: Record<string, string> = {
  kernel: "--kernel",
  initrd: "--initrd",
  append: "--append",
  bios: "--bios",
  memBytes: "--mem",
  cpus: "--cpus",
  harts: "--cpus",
  disks: "--disk",
  nics: "--nic",
  name: "--name",
  console: "--console",
  noReboot: "--no-reboot",
  rng: "--no-rng",
  balloon: "--no-balloon",
  jit: "--jit",
  jitCacheSize: "--jit-cache-size",
};

/** The flag for a FieldError's field (`disks[1].format` → `--disk`), or undefined when no flag sets it. */
export function flagOfField(field: string): string | undefined {
  const root = /^[A-Za-z]+/.exec(field)?.[0] ?? "";
  return FLAG_OF_FIELD[root];
}

/**
 * Speak in flags: a FieldError from the VMM or the board becomes a UserError naming the flag
 * (`cpus: must be 1..8, got 9` → `--cpus: must be 1..8, got 9`); anything else passes through.
 */
export function toFlagError(e: unknown): unknown {
  if (!(e instanceof FieldError)) return e;
  const flag = flagOfField(e.field);
  if (flag === undefined) return e;
  // Inside a NIC, say which option: "nics[0].backend.hostfwd[1].hostPort" → "hostfwd[1].hostPort".
  const sub = /^nics\[\d+\]\.(?:backend\.)?(.+)$/.exec(e.field)?.[1];
  return new UserError(sub ? `${flag}: ${sub}: ${e.detail}` : `${flag}: ${e.detail}`);
}
