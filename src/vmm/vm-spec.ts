/**
 * The VM specification: what a VM *is*, as plain JSON-serializable data. The CLI builds one from flags,
 * the API from a request body, a state file stores one in its header. Live host objects (NIC backends,
 * consoles) are never part of it; they are attached when the VM is built (`VmAttachments` in vm.ts).
 *
 * `validateVmSpec` is the one gate: it checks every field of untrusted input (types, ranges, sizes) and
 * returns a normalized spec with defaults filled in, or throws a `FieldError` naming the field in the
 * spec's own terms (`cpus`, `disks[1].format`). Only `cli/` and `api/` turn those names into flags or
 * JSON pointers.
 */
import { FieldError } from "../base/errors.js";
import { defaultMac, formatMac, macFromName, parseMac } from "./mac.js";
import { checkNic, NET_NAME_PATTERN, type NicSpec } from "./nic-spec.js";
import {
  checkArray,
  checkBool,
  checkEnum,
  checkInt,
  checkKeys,
  checkPath,
  describe,
  isRecord,
  MAX_PATH_LENGTH,
} from "./spec-fields.js";
import { VIRTIO_SLOTS, virtioSlots } from "./virtio-slots.js";

export type { HostForward, NetAddress, NicBackendSpec, NicSpec } from "./nic-spec.js";
export { MAX_PATH_LENGTH };

/** Image formats a VM disk may be opened as (the VMDK/VDI/VHD importers are for `image convert`). */
export const DISK_FORMATS = ["raw", "qcow2"] as const;
export type DiskFormat = (typeof DISK_FORMATS)[number];

/** One virtio-blk disk. */
export interface DiskSpec {
  /** Path of the image on the host. */
  path: string;
  /** Image format; absent: probed from the file (a qcow2 header, else raw). */
  format?: DiskFormat;
  /** Open read-only; the guest sees VIRTIO_BLK_F_RO. */
  readOnly: boolean;
}

/** Which guest device the host console (stdio, the API's console stream) is attached to. */
export const CONSOLE_DEVICES = ["uart", "virtio"] as const;
export type ConsoleDevice = (typeof CONSOLE_DEVICES)[number];

/** The complete, normalized VM specification (every field present except the optional paths). */
export interface VmSpec {
  /** The VM's name (letters, digits, '_', '.', '-'); default NIC MACs are derived from it, so they stay the same across restarts. */
  name?: string;
  /** Linux kernel (Image or Image.gz); with bios "none", a bare ELF program. Required unless `bios` is firmware. */
  kernel?: string;
  /** initramfs (cpio, optionally gzip-compressed). */
  initrd?: string;
  /** Kernel command line; absent: follows `console` (DEFAULT_APPEND or VIRTIO_CONSOLE_APPEND). */
  append?: string;
  /** "builtin" (host-side SBI), "none" (bare program with HTIF) or the path of M-mode firmware. */
  bios: string;
  /** Guest RAM in bytes: a multiple of 4 KiB in MIN_MEM_BYTES..MAX_MEM_BYTES. */
  memBytes: number;
  /** Harts, 1..MAX_CPUS. */
  cpus: number;
  /** virtio-blk disks, in slot order (the guest's vda, vdb, ...). */
  disks: DiskSpec[];
  /** virtio-net NICs, after the disks (eth0, eth1, ...). */
  nics: NicSpec[];
  /** "uart": the ns16550a (console=ttyS0). "virtio": a virtio console after the NICs (console=hvc1). */
  console: ConsoleDevice;
  /** Attach a virtio-rng device (/dev/hwrng), the last virtio slot. */
  rng: boolean;
  /**
   * Attach a virtio-balloon device (virtio 1.2 §5.5: memory target, statistics, free page reporting)
   * after the rng, the last virtio slot.
   */
  balloon: boolean;
  /** With the balloon: offer free page reporting (the guest gives free 4 MiB blocks back on its own). */
  freePageReporting: boolean;
  /** Exit when the guest resets instead of rebooting it (QEMU's -no-reboot). */
  noReboot: boolean;
  /** This VM's number among VMs sharing a network, 0..65535: it makes default MACs distinct. */
  vmIndex: number;
  /** Binary translation of guest code: "on" (hot code, the default), "off" (the interpreter alone) or "always" (every block; testing). */
  jit: JitSpec;
  /** Most translated regions the JIT keeps per hart before it evicts the oldest. */
  jitCacheSize: number;
}

export const JIT_SETTINGS = ["on", "off", "always"] as const;
export type JitSpec = (typeof JIT_SETTINGS)[number];
export const DEFAULT_JIT_CACHE_SIZE = 8192;
export const MAX_JIT_CACHE_SIZE = 1 << 20;

/** What a caller may omit: everything with a default. */
export type VmSpecInput = Partial<Omit<VmSpec, "nics">> & { nics?: NicSpecInput[] };
/** A NIC as input: the backend may be omitted (a `hub` port the embedder attaches). */
export type NicSpecInput = Omit<NicSpec, "backend"> & { backend?: NicSpec["backend"] };

export const MIN_MEM_BYTES = 16 * 1024 * 1024;
/** Guest RAM is one ArrayBuffer with byte-indexed typed views, which V8 caps at 2^32 elements. */
export const MAX_MEM_BYTES = 4 * 1024 * 1024 * 1024;
export const DEFAULT_MEM_BYTES = 256 * 1024 * 1024;
/** The riscv-virt board's limit (as QEMU virt's VIRT_CPUS_MAX for one socket, kept small here). */
export const MAX_CPUS = 8;
/** Bounds on strings, so a hostile spec cannot make a path or FDT string of unbounded size. */
export const MAX_APPEND_LENGTH = 4096;
export const MAX_VM_INDEX = 0xffff;

/** Default kernel command line: the ns16550a console, and SBI early console until it is up. */
export const DEFAULT_APPEND = "console=ttyS0 earlycon=sbi";
/**
 * Kernel command line with the guest console on the virtio console. hvc_riscv_sbi registers hvc0 at
 * console_initcall, so virtio-console's port, probed later, takes the next hvc index: hvc1.
 */
export const VIRTIO_CONSOLE_APPEND = "console=hvc1 earlycon=sbi";

/** The kernel command line the guest gets. */
export function effectiveAppend(spec: VmSpec): string {
  return spec.append ?? (spec.console === "virtio" ? VIRTIO_CONSOLE_APPEND : DEFAULT_APPEND);
}

const SPEC_FIELDS = new Set([
  "name",
  "kernel",
  "initrd",
  "append",
  "bios",
  "memBytes",
  "cpus",
  "disks",
  "nics",
  "console",
  "rng",
  "balloon",
  "freePageReporting",
  "noReboot",
  "vmIndex",
  "jit",
  "jitCacheSize",
]);

const DISK_FIELDS = new Set(["path", "format", "readOnly"]);

function checkDisk(field: string, v: unknown): DiskSpec {
  if (!isRecord(v)) throw new FieldError(field, `must be an object, got ${describe(v)}`, v);
  checkKeys(field, v, DISK_FIELDS);
  const disk: DiskSpec = { path: checkPath(`${field}.path`, v.path), readOnly: false };
  if (v.format !== undefined) disk.format = checkEnum(`${field}.format`, v.format, DISK_FORMATS, "raw");
  disk.readOnly = checkBool(`${field}.readOnly`, v.readOnly, false);
  return disk;
}

/**
 * Check untrusted input (a parsed API body, a state file's header, flags mapped by the CLI) and return
 * a normalized VmSpec: unknown fields, wrong types, out-of-range numbers and inconsistent combinations
 * are each one FieldError. Never returns an object sharing arrays with the input.
 */
export function validateVmSpec(input: unknown): VmSpec {
  if (!isRecord(input))
    throw new FieldError("", `a VM specification must be an object, got ${describe(input)}`);
  checkKeys("", input, SPEC_FIELDS);
  const bios = input.bios === undefined ? "builtin" : checkPath("bios", input.bios);
  const spec: VmSpec = {
    bios,
    memBytes: checkInt("memBytes", input.memBytes, DEFAULT_MEM_BYTES, MIN_MEM_BYTES, MAX_MEM_BYTES),
    cpus: checkInt("cpus", input.cpus, 1, 1, MAX_CPUS),
    disks: checkArray("disks", input.disks, VIRTIO_SLOTS).map((d, i) => checkDisk(`disks[${i}]`, d)),
    nics: checkArray("nics", input.nics, VIRTIO_SLOTS).map((n, i) => checkNic(`nics[${i}]`, n)),
    console: checkEnum("console", input.console, CONSOLE_DEVICES, "uart"),
    rng: checkBool("rng", input.rng, true),
    balloon: checkBool("balloon", input.balloon, true),
    freePageReporting: checkBool("freePageReporting", input.freePageReporting, true),
    noReboot: checkBool("noReboot", input.noReboot, false),
    vmIndex: checkInt("vmIndex", input.vmIndex, 0, 0, MAX_VM_INDEX),
    // Off by default until a boot is no slower with it (docs/jit.md, "Where it stands").
    jit: checkEnum("jit", input.jit, JIT_SETTINGS, "on"),
    jitCacheSize: checkInt("jitCacheSize", input.jitCacheSize, DEFAULT_JIT_CACHE_SIZE, 1, MAX_JIT_CACHE_SIZE),
  };
  if (spec.memBytes % 4096 !== 0)
    throw new FieldError("memBytes", `must be a multiple of 4096, got ${spec.memBytes}`, spec.memBytes);
  if (input.name !== undefined) {
    const n = input.name;
    if (typeof n !== "string" || !NET_NAME_PATTERN.test(n))
      throw new FieldError(
        "name",
        `must be letters, digits, '_', '.', '-' (at most 64), got ${describe(n)}`,
        n,
      );
    spec.name = n;
  }
  if (input.kernel !== undefined) spec.kernel = checkPath("kernel", input.kernel);
  if (input.initrd !== undefined) spec.initrd = checkPath("initrd", input.initrd);
  if (input.append !== undefined) {
    const a = input.append;
    if (typeof a !== "string") throw new FieldError("append", `must be a string, got ${describe(a)}`, a);
    if (a.length > MAX_APPEND_LENGTH)
      throw new FieldError("append", `is longer than ${MAX_APPEND_LENGTH} characters`, a.length);
    // The command line becomes an FDT string property (NUL-terminated, devicetree spec 2.2.4).
    if (a.includes("\0")) throw new FieldError("append", "must not contain a NUL character", a);
    spec.append = a;
  }
  if (spec.bios === "none") {
    if (spec.console === "virtio")
      throw new FieldError(
        "console",
        "virtio needs a Linux guest; bare programs (bios none) use HTIF",
        "virtio",
      );
    if (spec.kernel === undefined) throw new FieldError("kernel", "required with bios none (an ELF program)");
    // A bare program gets RAM, a CLINT and HTIF only: refuse what it would silently go without.
    const bare = "not supported with bios none (a bare ELF program gets only RAM, a CLINT and HTIF)";
    if (spec.initrd !== undefined) throw new FieldError("initrd", bare);
    if (spec.append !== undefined) throw new FieldError("append", bare);
    if (spec.disks.length > 0) throw new FieldError("disks", bare);
    if (spec.nics.length > 0) throw new FieldError("nics", bare);
  } else if (spec.bios === "builtin" && spec.kernel === undefined) {
    throw new FieldError("kernel", "required with the built-in SBI (a Linux Image)");
  }
  // Distinct MACs within the VM (the guest's bridge and ARP would misbehave otherwise).
  const seen = new Set<string>();
  spec.nics.forEach((nic, i) => {
    const mac = nic.mac ?? formatMac(generatedMac(spec, i));
    if (seen.has(mac)) throw new FieldError(`nics[${i}].mac`, `${mac} is already used by another NIC`, mac);
    seen.add(mac);
  });
  const slots = virtioSlots(spec);
  if (slots.length > VIRTIO_SLOTS) {
    const count = (k: string) => slots.filter((s) => s === k).length;
    const parts = [`${count("disk")} disk(s)`, `${count("nic")} NIC(s)`];
    if (spec.console === "virtio") parts.push("console");
    if (spec.rng) parts.push("rng");
    if (spec.balloon) parts.push("balloon");
    throw new FieldError(
      "",
      `too many virtio devices: ${parts.join(" + ")} = ${slots.length}; the board has ${VIRTIO_SLOTS} slots`,
      slots.length,
    );
  }
  return spec;
}

/** The MAC each NIC of a validated spec gets, in slot order. */
export function nicMacs(spec: VmSpec): Uint8Array[] {
  return spec.nics.map((n, i) => (n.mac === undefined ? generatedMac(spec, i) : parseMac(n.mac)));
}

/** The MAC of NIC `i` when none is given: from the VM's name when it has one (stable across restarts), else from vmIndex. */
function generatedMac(spec: VmSpec, i: number): Uint8Array {
  return spec.name === undefined ? defaultMac(spec.vmIndex, i) : macFromName(spec.name, i);
}
