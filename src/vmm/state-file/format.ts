/**
 * The tvisor state file (format version 1): a VM's complete saved state, written and read as a stream of
 * checksummed sections so that neither side holds a second copy of guest RAM.
 *
 *   preamble   16 bytes: magic "TVSTATE\0", u32 format version, u32 reserved (0)
 *   section*   16-byte section header (u32 type, u32 flags = 0, u32 payload length, u32 CRC-32 of the
 *              payload) followed by the payload
 *
 * Sections come in this order: one HEADER (JSON: versions, the VM specification, RAM geometry,
 * component names, disk identities), one COMPONENT per component (JSON: `{name, state}`, typed arrays
 * base64, see codec.ts), RAM chunks (binary, below), and one END (counts of what came before and a
 * CRC-32 over every earlier section's CRC, so a section removed, repeated or moved is noticed).
 * Nothing may follow END. All integers are little-endian.
 *
 * A RAM chunk covers up to CHUNK_PAGES consecutive 4 KiB pages: u32 first page, u32 page count, a
 * bitmap (bit i set: page first+i is stored), then the stored pages concatenated and compressed with
 * raw DEFLATE (RFC 1951). Pages that are all zero are not stored, and a chunk with none is not written:
 * a restored machine starts with zeroed RAM. Chunks are in increasing page order and never overlap.
 *
 * Version 2 is the pre-copy stream a snapshot of a running VM writes (vm-state-precopy.ts): RAM is
 * written while the guest runs and the pages it dirties meanwhile are written again, as in a live
 * migration's stream (QEMU docs/devel/migration/main.rst: a page may be sent more than once, the last
 * copy wins). So the RAM chunks come first, right after HEADER, in any order, and may cover pages an
 * earlier chunk covered: a chunk *replaces* all its pages, the ones not stored reading as zero. Then the
 * COMPONENT sections (taken while the guest was paused, after the last RAM chunk) and END. A v2 chunk may
 * store no page (its range became all zero) and may start anywhere; it never crosses the end of RAM.
 */
import { FieldError } from "../../base/errors.js";
import { type VmSpec, validateVmSpec } from "../vm-spec.js";
import { StateFileError } from "./errors.js";

/** "TVSTATE" and a NUL: identifies the file; a text editor's line-ending conversion breaks no other byte. */
export const STATE_FILE_MAGIC = Uint8Array.of(0x54, 0x56, 0x53, 0x54, 0x41, 0x54, 0x45, 0x00);
export const STATE_FILE_VERSION = 1;
/** The pre-copy layout (RAM chunks first, repeatable; see above). */
export const STATE_FILE_VERSION_PRECOPY = 2;
export const PREAMBLE_BYTES = 16;
export const SECTION_HEADER_BYTES = 16;

export const SECTION_HEADER = 1;
export const SECTION_COMPONENT = 2;
export const SECTION_RAM = 3;
export const SECTION_END = 4;

export const PAGE_SIZE = 4096;
/** Pages per RAM chunk: 1 MiB, large enough for DEFLATE to find repeats, small enough to stream. */
export const CHUNK_PAGES = 256;

/** Largest payload of each section type; a length beyond it is corruption, not a reason to allocate. */
export const MAX_HEADER_BYTES = 1 << 20;
export const MAX_COMPONENT_BYTES = 8 << 20;
/** A chunk's own fields plus DEFLATE's worst case for 1 MiB (stored blocks: 5 bytes per 64 KiB). */
export const MAX_RAM_SECTION_BYTES = 8 + CHUNK_PAGES / 8 + CHUNK_PAGES * PAGE_SIZE + 4096;
export const END_BYTES = 20;
/** Most components a machine has: board, 8 harts, 5 devices, 8 virtio slots. */
export const MAX_COMPONENTS = 32;

export const STATE_ARCH = "riscv64";
export const STATE_MACHINE = "riscv-virt";

/** What identifies a disk image, so a restore can check it is the image the state was saved with. */
export interface DiskIdentity {
  /** The path in the VM specification. */
  path: string;
  /** The image format as opened ("raw", "qcow2"). */
  format: string;
  /** Size the guest sees, in bytes. */
  virtualSize: number;
  /** Size of the image file itself, in bytes. */
  fileSize: number;
  /** Modification time of the file when the state was saved (after the disk was flushed), ms since the epoch. */
  mtimeMs: number;
  /** SHA-256 (hex) of sampled parts of the file: its first 64 KiB and 64 evenly spread 4 KiB blocks. */
  sample: string;
}

/** The HEADER section. */
export interface StateFileHeader {
  /** tvisor version that wrote the file (informative; compatibility is the format and component versions). */
  tvisor: string;
  arch: typeof STATE_ARCH;
  machine: typeof STATE_MACHINE;
  /** ISO 8601 time of the save. */
  createdAt: string;
  /** The VM specification the machine was built from. */
  spec: VmSpec;
  /** Guest RAM size; equals spec.memBytes. */
  ramBytes: number;
  pageSize: number;
  chunkPages: number;
  /** Component sections that follow, in order (RiscvVirt.componentNames()). */
  components: string[];
  /** One per spec.disks entry, in order. */
  disks: DiskIdentity[];
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function bad(detail: string): never {
  throw new StateFileError("invalid", `header: ${detail}`);
}

function str(o: Record<string, unknown>, k: string, max: number, at = ""): string {
  const v = o[k];
  if (typeof v !== "string" || v.length > max) bad(`${at}${k} must be a string of at most ${max} characters`);
  return v;
}

function int(o: Record<string, unknown>, k: string, min: number, max: number, at = ""): number {
  const v = o[k];
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < min || v > max)
    bad(`${at}${k} must be an integer in ${min}..${max}, got ${JSON.stringify(v)}`);
  return v;
}

const HEADER_KEYS = [
  "tvisor",
  "arch",
  "machine",
  "createdAt",
  "spec",
  "ramBytes",
  "pageSize",
  "chunkPages",
  "components",
  "disks",
];
const DISK_KEYS = ["path", "format", "virtualSize", "fileSize", "mtimeMs", "sample"];

/**
 * Check a parsed HEADER section field by field (the spec through validateVmSpec) and return it typed.
 * A file for another architecture or machine is "incompatible"; anything malformed is "invalid".
 */
export function checkStateFileHeader(v: unknown): StateFileHeader {
  if (!isRecord(v)) bad("not an object");
  for (const k of Object.keys(v)) if (!HEADER_KEYS.includes(k)) bad(`unknown field ${JSON.stringify(k)}`);
  const arch = str(v, "arch", 32);
  const machine = str(v, "machine", 32);
  if (arch !== STATE_ARCH || machine !== STATE_MACHINE)
    throw new StateFileError(
      "incompatible",
      `saved from a ${arch} ${machine} machine; this is ${STATE_ARCH} ${STATE_MACHINE}`,
    );
  let spec: VmSpec;
  try {
    spec = validateVmSpec(v.spec);
  } catch (e) {
    if (e instanceof FieldError) bad(`spec${e.field === "" ? "" : `.${e.field}`}: ${e.detail}`);
    throw e;
  }
  const ramBytes = int(v, "ramBytes", 0, Number.MAX_SAFE_INTEGER);
  if (ramBytes !== spec.memBytes) bad(`ramBytes ${ramBytes} differs from spec.memBytes ${spec.memBytes}`);
  if (int(v, "pageSize", 0, 1 << 30) !== PAGE_SIZE) bad(`pageSize must be ${PAGE_SIZE}`);
  if (int(v, "chunkPages", 0, 1 << 30) !== CHUNK_PAGES) bad(`chunkPages must be ${CHUNK_PAGES}`);
  const components = v.components;
  if (!Array.isArray(components) || components.length < 1 || components.length > MAX_COMPONENTS)
    bad(`components must be an array of 1..${MAX_COMPONENTS} names`);
  const names = components.map((c, i) => {
    if (typeof c !== "string" || !/^[a-z][a-z0-9]{0,31}$/.test(c))
      bad(`components[${i}] is not a component name`);
    return c;
  });
  if (new Set(names).size !== names.length) bad("components names a component twice");
  const disks = v.disks;
  if (!Array.isArray(disks) || disks.length !== spec.disks.length)
    bad(`disks must list the ${spec.disks.length} disk(s) of the spec`);
  const identities = disks.map((d, i): DiskIdentity => {
    const at = `disks[${i}].`;
    if (!isRecord(d)) bad(`${at.slice(0, -1)} is not an object`);
    for (const k of Object.keys(d)) if (!DISK_KEYS.includes(k)) bad(`${at}${k}: unknown field`);
    const path = str(d, "path", 4096, at);
    if (path !== spec.disks[i].path) bad(`${at}path differs from the spec's`);
    const sample = str(d, "sample", 64, at);
    if (!/^[0-9a-f]{64}$/.test(sample)) bad(`${at}sample must be a SHA-256 in hex`);
    return {
      path,
      format: str(d, "format", 16, at),
      virtualSize: int(d, "virtualSize", 0, Number.MAX_SAFE_INTEGER, at),
      fileSize: int(d, "fileSize", 0, Number.MAX_SAFE_INTEGER, at),
      mtimeMs: int(d, "mtimeMs", 0, Number.MAX_SAFE_INTEGER, at),
      sample,
    };
  });
  return {
    tvisor: str(v, "tvisor", 64),
    arch: STATE_ARCH,
    machine: STATE_MACHINE,
    createdAt: str(v, "createdAt", 64),
    spec,
    ramBytes,
    pageSize: PAGE_SIZE,
    chunkPages: CHUNK_PAGES,
    components: names,
    disks: identities,
  };
}

/** Compression used for RAM chunks; host code provides it (node:zlib in vmm/node/). */
export interface ChunkCompression {
  /** Raw DEFLATE (RFC 1951). */
  deflate(data: Uint8Array): Promise<Uint8Array>;
  /** Inverse of deflate; must refuse (throw) rather than produce more than `maxBytes`. */
  inflate(data: Uint8Array, maxBytes: number): Promise<Uint8Array>;
}
