/**
 * The tvisor live-migration stream (docs/migration.md), version 1. The source sends binary messages over
 * one ordered, reliable link (a WebSocket on the destination daemon's API); each is
 *
 *   u8 type, u8 format version (1), u16 reserved (0), u32 CRC-32 (IEEE) of the payload, payload
 *
 * in this order: one HELLO (JSON: versions, the VM definition, RAM size, component names, disks), RAM
 * messages in pre-copy rounds (each ended by SYNC, which the destination answers once it has applied the
 * round, so the source measures the bandwidth actually achieved and pauses the guest with nothing queued), the paused machine's components as COMPONENT fragments of one blob, END
 * (counts of what came before), and after the destination's `loaded` reply, COMMIT. The destination
 * answers with JSON text replies (`accepted`, `synced`, `loaded`, `resumed`, `error`). All integers are
 * little-endian. The scheme is pre-copy (Clark et al., "Live Migration of Virtual Machines", NSDI 2005),
 * as QEMU's precopy migration (docs/devel/migration/main.rst).
 *
 * With copied storage (HELLO `copyStorage`), DISK messages carry the disks' contents in the same rounds:
 * u32 disk index, u32 flags (bit 0: the range reads as zeroes and carries no data), f64-safe u64 offset,
 * u32 length, then the bytes; each range lies inside its disk and is at most DISK_CHUNK long.
 *
 * A RAM message: u32 n (1..MAX_PAGE_ENTRIES) then n u32 entries (page index, bit 31 set: the page is all
 * zero and carries no data), then the data of the entries without bit 31, 4096 bytes each, in order; at
 * most MAX_DATA_PAGES of them, so a message stays under the API's 64 KiB WebSocket payload limit.
 */
import { crc32 } from "../state-file/crc32.js";
import { MigrationError } from "./errors.js";

export const MIGRATION_VERSION = 1;
export const MIGRATION_MAGIC = "tvisor-migration";
export const MSG_HEADER_BYTES = 8;

export const MSG_HELLO = 1;
export const MSG_RAM = 2;
export const MSG_COMPONENT = 3;
export const MSG_END = 4;
export const MSG_COMMIT = 5;
/** Empty; the destination answers `synced` once it has applied everything before it (ends a round). */
export const MSG_SYNC = 6;
/** A range of one disk (copied storage only): its bytes, or that it reads as zeroes. */
export const MSG_DISK = 7;

export const PAGE_SIZE = 4096;
/** Pages with data per RAM message: 15 × 4 KiB + entries stays under 64 KiB. */
export const MAX_DATA_PAGES = 15;
/** Entries per RAM message (zero pages cost 4 bytes each). */
export const MAX_PAGE_ENTRIES = 512;
/** Largest message of any type; a longer one is refused before it is looked at. */
export const MAX_MESSAGE_BYTES = 64 * 1024;
/** Largest HELLO payload. */
export const MAX_HELLO_BYTES = 60 * 1024;
/** Largest component blob (every component's saved state, encoded). */
export const MAX_COMPONENT_BLOB = 32 << 20;
/** Payload bytes of one COMPONENT fragment (after its u32 total, u32 offset). */
export const COMPONENT_FRAGMENT = 60 * 1024;
export const END_BYTES = 20;
/** Bytes of disk per DISK message, and the dirty-tracking granularity of copied disks. */
export const DISK_CHUNK = 32 * 1024;
export const DISK_HEADER_BYTES = 20;
/** Formats a copied disk may have: the destination creates the same (raw, or a qcow2 without backing file). */
export const COPYABLE_FORMATS: readonly string[] = ["raw", "qcow2"];
/** Largest virtual size of a copied disk the destination creates (1 PiB; qcow2's own limits are far above). */
export const MAX_COPIED_DISK = 2 ** 50;

/** One decoded message. */
export interface Message {
  type: number;
  payload: Uint8Array;
}

/** Frame a payload as a message of `type`. */
export function encodeMessage(type: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(MSG_HEADER_BYTES + payload.length);
  const dv = new DataView(out.buffer);
  out[0] = type;
  out[1] = MIGRATION_VERSION;
  dv.setUint32(4, crc32(payload), true);
  out.set(payload, MSG_HEADER_BYTES);
  return out;
}

const TYPE_NAMES: Record<number, string> = {
  [MSG_HELLO]: "hello",
  [MSG_RAM]: "RAM",
  [MSG_COMPONENT]: "component",
  [MSG_END]: "end",
  [MSG_COMMIT]: "commit",
  [MSG_SYNC]: "sync",
  [MSG_DISK]: "disk",
};

export function messageName(type: number): string {
  return TYPE_NAMES[type] ?? `type ${type}`;
}

/** Check a message's framing and checksum (untrusted bytes); a MigrationError says what is wrong. */
export function decodeMessage(bytes: Uint8Array): Message {
  if (bytes.length < MSG_HEADER_BYTES) throw new MigrationError(`stream: a message of ${bytes.length} bytes`);
  if (bytes.length > MAX_MESSAGE_BYTES)
    throw new MigrationError(`stream: a message of ${bytes.length} bytes (limit ${MAX_MESSAGE_BYTES})`);
  const type = bytes[0];
  if (TYPE_NAMES[type] === undefined) throw new MigrationError(`stream: unknown message type ${type}`);
  if (bytes[1] !== MIGRATION_VERSION)
    throw new MigrationError(
      `stream: format version ${bytes[1]}; this tvisor speaks version ${MIGRATION_VERSION}`,
    );
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dv.getUint16(2, true) !== 0) throw new MigrationError("stream: reserved header bits set");
  const payload = bytes.subarray(MSG_HEADER_BYTES);
  if (crc32(payload) !== dv.getUint32(4, true))
    throw new MigrationError(`stream: ${messageName(type)} message checksum mismatch`);
  return { type, payload };
}

/** A disk as the source has it open: the destination must open the same image the same way. */
export interface HelloDisk {
  path: string;
  format: string;
  virtualSize: number;
}

/** The HELLO message: what the destination needs to define and build the machine before RAM arrives. */
export interface Hello {
  magic: typeof MIGRATION_MAGIC;
  version: number;
  tvisor: string;
  arch: string;
  machine: string;
  /** The VM's name and its definition as the API describes it (api/vm-spec.ts), NIC MACs explicit. */
  name: string;
  definition: unknown;
  ramBytes: number;
  components: string[];
  disks: HelloDisk[];
  /** The disks' contents come along in DISK messages; the destination creates its own images. */
  copyStorage?: boolean;
}

function bad(detail: string): never {
  throw new MigrationError(`hello: ${detail}`);
}

/** Parse and check the shape of a HELLO payload (the definition itself is the daemon's to validate). */
export function parseHello(payload: Uint8Array): Hello {
  if (payload.length > MAX_HELLO_BYTES) bad(`${payload.length} bytes`);
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(payload));
  } catch {
    bad("not valid JSON");
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) bad("not an object");
  const o = v as Record<string, unknown>;
  const keys = [
    "magic",
    "version",
    "tvisor",
    "arch",
    "machine",
    "name",
    "definition",
    "ramBytes",
    "components",
    "disks",
    "copyStorage",
  ];
  for (const k of Object.keys(o)) if (!keys.includes(k)) bad(`unknown field ${JSON.stringify(k)}`);
  if (o.magic !== MIGRATION_MAGIC) bad("not a tvisor migration stream");
  if (o.version !== MIGRATION_VERSION)
    bad(`version ${JSON.stringify(o.version)}; this tvisor speaks ${MIGRATION_VERSION}`);
  for (const k of ["tvisor", "arch", "machine", "name"])
    if (typeof o[k] !== "string" || (o[k] as string).length > 256) bad(`${k} must be a short string`);
  if (
    typeof o.ramBytes !== "number" ||
    !Number.isSafeInteger(o.ramBytes) ||
    o.ramBytes <= 0 ||
    o.ramBytes % PAGE_SIZE !== 0
  )
    bad("ramBytes must be a positive multiple of 4096");
  if (!Array.isArray(o.components) || o.components.length < 1 || o.components.length > 64)
    bad("components must be an array of 1..64 names");
  for (const c of o.components)
    if (typeof c !== "string" || !/^[a-z][a-z0-9]{0,31}$/.test(c)) bad("bad component name");
  if (!Array.isArray(o.disks) || o.disks.length > 64) bad("disks must be an array");
  for (const d of o.disks) {
    const r = d as Record<string, unknown>;
    if (
      typeof d !== "object" ||
      d === null ||
      typeof r.path !== "string" ||
      typeof r.format !== "string" ||
      typeof r.virtualSize !== "number" ||
      !Number.isSafeInteger(r.virtualSize) ||
      r.virtualSize < 0 ||
      Object.keys(r).length !== 3
    )
      bad("a disk must be {path, format, virtualSize}");
  }
  if (o.copyStorage !== undefined && typeof o.copyStorage !== "boolean") bad("copyStorage must be a boolean");
  if (o.copyStorage === true)
    for (const d of o.disks as HelloDisk[]) {
      if (!COPYABLE_FORMATS.includes(d.format)) bad(`a copied disk cannot be ${JSON.stringify(d.format)}`);
      if (d.virtualSize > MAX_COPIED_DISK) bad(`a copied disk of ${d.virtualSize} bytes`);
    }
  return o as unknown as Hello;
}

/** Build a RAM message for `pages` (indices) of `ram` (the whole RAM view). At most MAX_PAGE_ENTRIES, MAX_DATA_PAGES with data. */
export function encodeRam(ram: Uint8Array, pages: readonly number[], zero: readonly boolean[]): Uint8Array {
  const n = pages.length;
  let data = 0;
  for (const z of zero) if (!z) data++;
  const payload = new Uint8Array(4 + 4 * n + data * PAGE_SIZE);
  const dv = new DataView(payload.buffer);
  dv.setUint32(0, n, true);
  let at = 4 + 4 * n;
  for (let i = 0; i < n; i++) {
    dv.setUint32(4 + 4 * i, (pages[i] | (zero[i] ? 0x80000000 : 0)) >>> 0, true);
    if (!zero[i]) {
      const off = pages[i] * PAGE_SIZE;
      payload.set(ram.subarray(off, off + PAGE_SIZE), at);
      at += PAGE_SIZE;
    }
  }
  return encodeMessage(MSG_RAM, payload);
}

/**
 * Apply a RAM payload (untrusted): every entry is checked before any page is written, so a bad message
 * writes nothing. `write(page, data | null)` puts one page (null: zero it). Returns the number of pages.
 */
export function applyRam(
  payload: Uint8Array,
  pages: number,
  write: (page: number, data: Uint8Array | null) => void,
): number {
  const fail = (why: string): never => {
    throw new MigrationError(`stream: RAM message: ${why}`);
  };
  if (payload.length < 4) fail("too short");
  const dv = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const n = dv.getUint32(0, true);
  if (n < 1 || n > MAX_PAGE_ENTRIES) fail(`${n} entries`);
  if (payload.length < 4 + 4 * n) fail("too short for its entries");
  let data = 0;
  for (let i = 0; i < n; i++) {
    const e = dv.getUint32(4 + 4 * i, true);
    const page = e & 0x7fffffff;
    if (page >= pages) fail(`page ${page} is beyond RAM (${pages} pages)`);
    if ((e & 0x80000000) === 0) data++;
  }
  if (data > MAX_DATA_PAGES) fail(`${data} pages of data`);
  if (payload.length !== 4 + 4 * n + data * PAGE_SIZE)
    fail(`${payload.length} bytes for ${data} pages of data`);
  let at = 4 + 4 * n;
  for (let i = 0; i < n; i++) {
    const e = dv.getUint32(4 + 4 * i, true);
    if ((e & 0x80000000) !== 0) write(e & 0x7fffffff, null);
    else {
      write(e, payload.subarray(at, at + PAGE_SIZE));
      at += PAGE_SIZE;
    }
  }
  return n;
}

/** Build a DISK message: `data` at `offset` of disk `index`, or (data null) `length` bytes of zeroes. */
export function encodeDisk(
  index: number,
  offset: number,
  data: Uint8Array | null,
  length: number,
): Uint8Array {
  const p = new Uint8Array(DISK_HEADER_BYTES + (data === null ? 0 : data.length));
  const dv = new DataView(p.buffer);
  dv.setUint32(0, index, true);
  dv.setUint32(4, data === null ? 1 : 0, true);
  dv.setBigUint64(8, BigInt(offset), true);
  dv.setUint32(16, data === null ? length : data.length, true);
  if (data !== null) p.set(data, DISK_HEADER_BYTES);
  return encodeMessage(MSG_DISK, p);
}

/** One checked DISK message: data null means the range reads as zeroes. */
export interface DiskRange {
  index: number;
  offset: number;
  length: number;
  data: Uint8Array | null;
}

/**
 * Check a DISK payload (untrusted) against the disks' sizes: a known disk, known flags, a length of
 * 1..DISK_CHUNK that matches the bytes carried, and a range inside the disk.
 */
export function decodeDisk(payload: Uint8Array, sizes: readonly number[]): DiskRange {
  const fail = (why: string): never => {
    throw new MigrationError(`stream: disk message: ${why}`);
  };
  if (payload.length < DISK_HEADER_BYTES) fail("too short");
  const dv = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const index = dv.getUint32(0, true);
  const flags = dv.getUint32(4, true);
  const off = dv.getBigUint64(8, true);
  const length = dv.getUint32(16, true);
  if (index >= sizes.length) fail(`disk ${index} does not exist (${sizes.length} copied)`);
  if ((flags & ~1) !== 0) fail(`unknown flags ${flags}`);
  if (length < 1 || length > DISK_CHUNK) fail(`a range of ${length} bytes`);
  const zero = (flags & 1) !== 0;
  if (payload.length !== DISK_HEADER_BYTES + (zero ? 0 : length))
    fail(`${payload.length} bytes for ${length}`);
  if (off + BigInt(length) > BigInt(sizes[index]))
    fail(`range ${off}+${length} is beyond disk ${index} (${sizes[index]} bytes)`);
  return {
    index,
    offset: Number(off),
    length,
    data: zero ? null : payload.subarray(DISK_HEADER_BYTES),
  };
}

/** The END message: what the destination must have received. */
export interface EndCounts {
  rounds: number;
  ramMessages: number;
  pages: number;
  componentBytes: number;
  /** DISK messages (copied storage; 0 otherwise). */
  diskMessages: number;
}

export function encodeEnd(c: EndCounts): Uint8Array {
  const p = new Uint8Array(END_BYTES);
  const dv = new DataView(p.buffer);
  dv.setUint32(0, c.rounds, true);
  dv.setUint32(4, c.ramMessages, true);
  dv.setUint32(8, c.pages, true);
  dv.setUint32(12, c.componentBytes, true);
  dv.setUint32(16, c.diskMessages, true);
  return encodeMessage(MSG_END, p);
}

export function decodeEnd(payload: Uint8Array): EndCounts {
  if (payload.length !== END_BYTES) throw new MigrationError("stream: end message has the wrong size");
  const dv = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  return {
    rounds: dv.getUint32(0, true),
    ramMessages: dv.getUint32(4, true),
    pages: dv.getUint32(8, true),
    componentBytes: dv.getUint32(12, true),
    diskMessages: dv.getUint32(16, true),
  };
}

/** COMPONENT fragments of the encoded component blob: u32 total, u32 offset, bytes. */
export function encodeComponentFragments(blob: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let off = 0; off < blob.length || off === 0; off += COMPONENT_FRAGMENT) {
    const part = blob.subarray(off, off + COMPONENT_FRAGMENT);
    const p = new Uint8Array(8 + part.length);
    const dv = new DataView(p.buffer);
    dv.setUint32(0, blob.length, true);
    dv.setUint32(4, off, true);
    p.set(part, 8);
    out.push(encodeMessage(MSG_COMPONENT, p));
    if (blob.length === 0) break;
  }
  return out;
}

/** Reassembles COMPONENT fragments (untrusted): one total, contiguous offsets, bounded size. */
export class ComponentBlob {
  private buf: Uint8Array | null = null;
  private filled = 0;

  add(payload: Uint8Array): void {
    const fail = (why: string): never => {
      throw new MigrationError(`stream: component message: ${why}`);
    };
    if (payload.length < 8) fail("too short");
    const dv = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
    const total = dv.getUint32(0, true);
    const off = dv.getUint32(4, true);
    if (total > MAX_COMPONENT_BLOB) fail(`${total} bytes of state (limit ${MAX_COMPONENT_BLOB})`);
    if (this.buf === null) this.buf = new Uint8Array(total);
    else if (this.buf.length !== total) fail("the total length changed");
    if (off !== this.filled) fail(`offset ${off}, expected ${this.filled}`);
    const part = payload.subarray(8);
    if (off + part.length > total) fail("runs past the total length");
    this.buf.set(part, off);
    this.filled += part.length;
  }

  /** The whole blob, or an error when it is incomplete. */
  done(): Uint8Array {
    if (this.buf === null || this.filled !== this.buf.length)
      throw new MigrationError("stream: the machine state is incomplete");
    return this.buf;
  }
}

/** Replies from the destination (WebSocket text messages). */
export type Reply =
  | { t: "accepted" }
  | { t: "synced" }
  | { t: "loaded" }
  | { t: "resumed" }
  | { t: "error"; error: string };

export function parseReply(text: string): Reply {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new MigrationError("destination: a reply that is not JSON");
  }
  const o = v as Record<string, unknown>;
  if (typeof o !== "object" || o === null) throw new MigrationError("destination: a malformed reply");
  if (o.t === "accepted" || o.t === "loaded" || o.t === "synced" || o.t === "resumed") return { t: o.t };
  if (o.t === "error" && typeof o.error === "string") return { t: "error", error: o.error.slice(0, 500) };
  throw new MigrationError("destination: an unknown reply");
}
