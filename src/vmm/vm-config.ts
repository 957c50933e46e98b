/** A VM's configuration as the user states it, plus the parsers for QEMU-style option values. */
import { UserError } from "../base/errors.js";
import type { CharBackend } from "../io/char-backend.js";
import type { NetBackend } from "../io/net-backend.js";

export interface DiskConfig {
  path: string;
  format?: "raw" | "qcow2";
  readOnly: boolean;
}

/** One virtio-net NIC. The embedder owns the backend (e.g. a NetHub port) and closes it; the VM never does. */
export interface NicConfig {
  /** "52:54:00:12:34:56" style; default: defaultMac(vmIndex, position of this NIC). */
  mac?: string;
  /** The host side of the link; it stays attached across guest reboots and restores. */
  backend: NetBackend;
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
  /** Exit when the guest resets instead of rebooting it (QEMU's -no-reboot). */
  noReboot?: boolean;
  /** virtio-net NICs, attached after the disks and before the console. */
  nics?: NicConfig[];
  /**
   * Attach a virtio console (single port, virtio 1.2 §5.3) on this backend, after the NICs and before
   * the rng. The bundled Linux names it hvc1 (hvc0 is the SBI console); `console=hvc1` puts the guest's
   * console there. The embedder owns the backend; it stays attached across guest reboots and restores.
   */
  virtioConsole?: CharBackend;
  /** This VM's number among VMs sharing a network (0..65535); it makes default MACs distinct. */
  vmIndex?: number;
}

/** Default kernel command line: the ns16550a console, and SBI early console until it is up. */
export const DEFAULT_APPEND = "console=ttyS0 earlycon=sbi";
/**
 * Kernel command line with the guest console on the virtio console. hvc_riscv_sbi registers hvc0 at
 * console_initcall, so virtio-console's port, probed later, takes the next hvc index: hvc1.
 */
export const VIRTIO_CONSOLE_APPEND = "console=hvc1 earlycon=sbi";
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
  // Guest RAM is one ArrayBuffer with byte-indexed typed views, which V8 caps at 2^32 elements.
  if (bytes > 4 * 1024 ** 3) throw new UserError(`--mem: ${text} is too large (maximum 4G)`);
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

/** Bytes of a MAC address. */
export const MAC_BYTES = 6;

/**
 * QEMU's default MAC scheme (52:54:00:12:34:56, locally administered unicast), with the VM index
 * folded into bytes 3-4 and the NIC index added to byte 5, so up to 65536 VMs × 8 NICs never collide
 * and VM 0's first NIC gets QEMU's own default.
 */
export function defaultMac(vmIndex: number, nicIndex: number): Uint8Array {
  if (!Number.isInteger(vmIndex) || vmIndex < 0 || vmIndex > 0xffff)
    throw new UserError(`VM index must be 0..65535, got ${vmIndex}`);
  if (!Number.isInteger(nicIndex) || nicIndex < 0 || nicIndex > 0xff - 0x56)
    throw new UserError(`NIC index ${nicIndex} out of range`);
  return Uint8Array.of(0x52, 0x54, 0x00, 0x12 ^ (vmIndex >> 8), 0x34 ^ (vmIndex & 0xff), 0x56 + nicIndex);
}

/** Parse "aa:bb:cc:dd:ee:ff" (or with dashes); a NIC address must be unicast (IEEE 802: group bit 0 clear). */
export function parseMac(text: string): Uint8Array {
  const m =
    /^([0-9a-f]{2})([:-])([0-9a-f]{2})\2([0-9a-f]{2})\2([0-9a-f]{2})\2([0-9a-f]{2})\2([0-9a-f]{2})$/i.exec(
      text.trim(),
    );
  if (!m) throw new UserError(`MAC address: cannot parse "${text}" (use e.g. 52:54:00:12:34:56)`);
  const mac = Uint8Array.from([m[1], m[3], m[4], m[5], m[6], m[7]], (h) => Number.parseInt(h, 16));
  if (mac[0] & 1)
    throw new UserError(`MAC address ${text} is a multicast address; a NIC needs a unicast one`);
  return mac;
}

/** "52:54:00:12:34:56" for a 6-byte MAC. */
export function formatMac(mac: Uint8Array): string {
  return Array.from(mac, (b) => b.toString(16).padStart(2, "0")).join(":");
}

/** The MAC each NIC of `config` gets, in attachment order; rejects duplicates within the VM. */
export function nicMacs(config: VmConfig): Uint8Array[] {
  const macs = (config.nics ?? []).map((n, i) =>
    n.mac === undefined ? defaultMac(config.vmIndex ?? 0, i) : parseMac(n.mac),
  );
  const seen = new Set<string>();
  for (const mac of macs) {
    const s = formatMac(mac);
    if (seen.has(s)) throw new UserError(`two NICs share the MAC address ${s}`);
    seen.add(s);
  }
  return macs;
}

/** What one virtio-mmio slot carries, in slot order. */
export type VirtioSlotKind = "disk" | "nic" | "console" | "rng";

/**
 * The virtio devices of `config` in slot order: disks, NICs, console, rng. The order is fixed so guest
 * device names (vda, eth0, hvc1) and snapshots stay the same across boots and restores.
 */
export function virtioSlots(config: VmConfig): VirtioSlotKind[] {
  const slots: VirtioSlotKind[] = config.disks.map(() => "disk");
  for (const _ of config.nics ?? []) slots.push("nic");
  if (config.virtioConsole) slots.push("console");
  if (config.rng) slots.push("rng");
  return slots;
}

/** Refuse a configuration that needs more virtio-mmio slots than the board has, naming what it asked for. */
export function checkVirtioSlots(config: VmConfig, available: number): void {
  const slots = virtioSlots(config);
  if (slots.length <= available) return;
  const count = (k: VirtioSlotKind) => slots.filter((s) => s === k).length;
  const parts = [`${count("disk")} disk(s)`, `${count("nic")} NIC(s)`];
  if (config.virtioConsole) parts.push("console");
  if (config.rng) parts.push("rng");
  throw new UserError(
    `too many virtio devices: ${parts.join(" + ")} = ${slots.length}; the board has ${available} slots`,
  );
}
