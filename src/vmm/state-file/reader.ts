/**
 * Reading a state file section by section from a byte source (format.ts). Every length is bounded
 * before anything is allocated, every section's CRC is checked before its payload is used, sections
 * must come in order, and the END section must account for everything before it. Errors are
 * StateFileErrors: truncated, corrupt, incompatible or invalid.
 */
import type { StateValue } from "../../base/state.js";
import { decodeState } from "./codec.js";
import { crc32 } from "./crc32.js";
import { StateFileError } from "./errors.js";
import {
  CHUNK_PAGES,
  type ChunkCompression,
  checkStateFileHeader,
  END_BYTES,
  MAX_COMPONENT_BYTES,
  MAX_COMPONENTS,
  MAX_HEADER_BYTES,
  MAX_RAM_SECTION_BYTES,
  PAGE_SIZE,
  PREAMBLE_BYTES,
  SECTION_COMPONENT,
  SECTION_END,
  SECTION_HEADER,
  SECTION_HEADER_BYTES,
  SECTION_RAM,
  STATE_FILE_MAGIC,
  STATE_FILE_VERSION,
  STATE_FILE_VERSION_PRECOPY,
  type StateFileHeader,
} from "./format.js";

/** Where the bytes come from. read(n) returns n bytes, or fewer only at the end of the data. */
export interface ByteSource {
  read(length: number): Promise<Uint8Array>;
}

/** Where restored RAM pages go: `offset` is a byte offset into guest RAM of `size` bytes. */
export interface RamTarget {
  readonly size: number;
  write(offset: number, data: Uint8Array): void;
}

const SECTION_NAMES: Record<number, string> = {
  [SECTION_HEADER]: "header",
  [SECTION_COMPONENT]: "component",
  [SECTION_RAM]: "RAM",
  [SECTION_END]: "end",
};

const MAX_LENGTH: Record<number, number> = {
  [SECTION_HEADER]: MAX_HEADER_BYTES,
  [SECTION_COMPONENT]: MAX_COMPONENT_BYTES,
  [SECTION_RAM]: MAX_RAM_SECTION_BYTES,
  [SECTION_END]: END_BYTES,
};

interface Section {
  type: number;
  payload: Uint8Array;
  offset: number;
}

function popcount8(b: number): number {
  let n = 0;
  for (let v = b; v !== 0; v &= v - 1) n++;
  return n;
}

/**
 * One state file being read: header(), then for version 1 components(), ram(), end(); for version 2
 * (`precopy` true after header()) ram(), components(), end().
 */
export class StateFileReader {
  /** The format version the preamble named (valid after header()). */
  version = 0;
  private offset = 0;
  private sections = 0;
  private chain = 0;
  private chainBefore = 0;
  private sectionsBefore = 0;
  private pending: Section | null = null;
  private componentCount = 0;
  private ramChunks = 0;
  private ramPagesStored = 0;

  constructor(
    private readonly source: ByteSource,
    private readonly compression: ChunkCompression,
  ) {}

  private async exactly(n: number, what: string): Promise<Uint8Array> {
    const at = this.offset;
    const b = await this.source.read(n);
    this.offset += b.length;
    if (b.length < n)
      throw new StateFileError("truncated", `the file ends inside ${what} at byte ${this.offset}`, at);
    return b;
  }

  private async nextSection(): Promise<Section> {
    if (this.pending) {
      const s = this.pending;
      this.pending = null;
      return s;
    }
    const at = this.offset;
    const head = await this.exactly(SECTION_HEADER_BYTES, "a section header");
    const dv = new DataView(head.buffer, head.byteOffset, head.byteLength);
    const type = dv.getUint32(0, true);
    const flags = dv.getUint32(4, true);
    const length = dv.getUint32(8, true);
    const crc = dv.getUint32(12, true);
    const name = SECTION_NAMES[type];
    if (name === undefined)
      throw new StateFileError("corrupt", `unknown section type ${type} at byte ${at}`, at);
    if (flags !== 0)
      throw new StateFileError("corrupt", `${name} section at byte ${at} has flags ${flags}`, at);
    if (length > MAX_LENGTH[type])
      throw new StateFileError("corrupt", `${name} section at byte ${at} claims ${length} bytes`, at);
    const payload = await this.exactly(length, `the ${name} section at byte ${at}`);
    if (crc32(payload) !== crc)
      throw new StateFileError("corrupt", `${name} section at byte ${at}: checksum mismatch`, at);
    // What the END section must match is everything before it, so keep the totals before this one.
    this.chainBefore = this.chain;
    this.sectionsBefore = this.sections;
    const c = new Uint8Array(4);
    new DataView(c.buffer).setUint32(0, crc, true);
    this.chain = crc32(c, this.chain);
    this.sections++;
    return { type, payload, offset: at };
  }

  private unexpected(s: Section, wanted: string): never {
    throw new StateFileError(
      "corrupt",
      `expected ${wanted} at byte ${s.offset}, found a ${SECTION_NAMES[s.type]} section`,
      s.offset,
    );
  }

  /** The preamble and the HEADER section, checked field by field. */
  async header(): Promise<StateFileHeader> {
    const pre = await this.exactly(PREAMBLE_BYTES, "the preamble");
    for (let i = 0; i < STATE_FILE_MAGIC.length; i++)
      if (pre[i] !== STATE_FILE_MAGIC[i])
        throw new StateFileError("corrupt", "not a tvisor state file (bad magic)", 0);
    const dv = new DataView(pre.buffer, pre.byteOffset, pre.byteLength);
    const version = dv.getUint32(8, true);
    if (version !== STATE_FILE_VERSION && version !== STATE_FILE_VERSION_PRECOPY)
      throw new StateFileError(
        "incompatible",
        `format version ${version}; this tvisor reads versions ${STATE_FILE_VERSION} and ${STATE_FILE_VERSION_PRECOPY}`,
        8,
      );
    this.version = version;
    if (dv.getUint32(12, true) !== 0)
      throw new StateFileError("corrupt", "reserved preamble bytes are not zero", 12);
    const s = await this.nextSection();
    if (s.type !== SECTION_HEADER) this.unexpected(s, "the header section");
    let parsed: unknown;
    try {
      parsed = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(s.payload));
    } catch {
      throw new StateFileError("invalid", "the header is not valid JSON", s.offset);
    }
    return checkStateFileHeader(parsed);
  }

  /** Every COMPONENT section, which must be exactly `names` in that order. */
  async components(names: readonly string[]): Promise<Map<string, StateValue>> {
    if (names.length > MAX_COMPONENTS) throw new Error("too many components");
    const out = new Map<string, StateValue>();
    for (const name of names) {
      const s = await this.nextSection();
      if (s.type !== SECTION_COMPONENT) this.unexpected(s, `the ${name} component section`);
      const v = decodeState(s.payload, "component");
      if (typeof v !== "object" || v === null || Array.isArray(v) || ArrayBuffer.isView(v))
        throw new StateFileError(
          "invalid",
          `component section at byte ${s.offset} is not an object`,
          s.offset,
        );
      const rec = v as { [k: string]: StateValue };
      const keys = Object.keys(rec);
      if (keys.length !== 2 || rec.name !== name || !("state" in rec))
        throw new StateFileError(
          "invalid",
          `component section at byte ${s.offset} should hold ${name}`,
          s.offset,
        );
      out.set(name, rec.state);
      this.componentCount++;
    }
    return out;
  }

  /** Whether the stream is the pre-copy layout (RAM first, chunks replace earlier ones). */
  get precopy(): boolean {
    return this.version === STATE_FILE_VERSION_PRECOPY;
  }

  /**
   * RAM chunks up to the END section (version 1) or the first COMPONENT section (version 2), written into
   * `ram` as they are read and inflated. In version 2 a chunk replaces its whole range: a page it does not
   * store is zeroed if an earlier chunk wrote it (pages never written stay as the fresh RAM has them).
   */
  async ram(ram: RamTarget): Promise<void> {
    const pages = ram.size / PAGE_SIZE;
    const v2 = this.precopy;
    const written = v2 ? new Uint32Array(Math.ceil(pages / 32)) : null;
    const zero = new Uint8Array(PAGE_SIZE);
    let nextFree = 0;
    for (;;) {
      const s = await this.nextSection();
      if (s.type === (v2 ? SECTION_COMPONENT : SECTION_END)) {
        this.pending = s;
        return;
      }
      if (s.type !== SECTION_RAM)
        this.unexpected(s, v2 ? "a RAM or component section" : "a RAM or end section");
      const p = s.payload;
      const bad: (why: string) => never = (why) => {
        throw new StateFileError("corrupt", `RAM chunk at byte ${s.offset}: ${why}`, s.offset);
      };
      if (p.length < 8) bad("too short");
      const dv = new DataView(p.buffer, p.byteOffset, p.byteLength);
      const first = dv.getUint32(0, true);
      const count = dv.getUint32(4, true);
      if (count < 1 || count > CHUNK_PAGES) bad(`page count ${count}`);
      if (!v2 && first < nextFree) bad(`page ${first} overlaps or precedes the previous chunk`);
      if (first + count > pages) bad(`pages ${first}..${first + count - 1} are beyond RAM (${pages} pages)`);
      const bitmapBytes = Math.ceil(count / 8);
      if (p.length < 8 + bitmapBytes) bad("too short for its bitmap");
      const bitmap = p.subarray(8, 8 + bitmapBytes);
      let stored = 0;
      for (const b of bitmap) stored += popcount8(b);
      // Bits beyond the page count must be clear (one encoding per chunk), and an empty chunk is never written.
      if (count % 8 !== 0 && bitmap[bitmapBytes - 1] >> (count % 8) !== 0)
        bad("bitmap bits beyond the page count");
      if (stored === 0 && !v2) bad("no pages stored");
      let data: Uint8Array | null = null;
      try {
        data = await this.compression.inflate(p.subarray(8 + bitmapBytes), stored * PAGE_SIZE);
      } catch {
        data = null;
      }
      if (data === null) bad("compressed data is damaged");
      if (data.length !== stored * PAGE_SIZE) bad(`holds ${data.length} bytes for ${stored} pages`);
      let k = 0;
      for (let i = 0; i < count; i++) {
        const p = first + i;
        if ((bitmap[i >> 3] & (1 << (i & 7))) === 0) {
          if (written !== null && (written[p >>> 5] & (1 << (p & 31))) !== 0) {
            ram.write(p * PAGE_SIZE, zero);
            written[p >>> 5] &= ~(1 << (p & 31));
          }
          continue;
        }
        ram.write(p * PAGE_SIZE, data.subarray(k * PAGE_SIZE, (k + 1) * PAGE_SIZE));
        if (written !== null) written[p >>> 5] |= 1 << (p & 31);
        k++;
      }
      nextFree = first + count;
      this.ramChunks++;
      this.ramPagesStored += stored;
    }
  }

  /** The END section: its counts and chain CRC must match what was read, and nothing may follow it. */
  async end(): Promise<void> {
    const s = await this.nextSection();
    if (s.type !== SECTION_END) this.unexpected(s, "the end section");
    const dv = new DataView(s.payload.buffer, s.payload.byteOffset, s.payload.byteLength);
    if (s.payload.length !== END_BYTES)
      throw new StateFileError("corrupt", "end section has the wrong size", s.offset);
    const counts = [
      dv.getUint32(0, true),
      dv.getUint32(4, true),
      dv.getUint32(8, true),
      dv.getUint32(12, true),
    ];
    const mine = [this.sectionsBefore, this.componentCount, this.ramChunks, this.ramPagesStored];
    if (counts.some((c, i) => c !== mine[i]))
      throw new StateFileError(
        "corrupt",
        `end section counts ${counts.join("/")} but the file holds ${mine.join("/")}`,
        s.offset,
      );
    if (dv.getUint32(16, true) !== this.chainBefore)
      throw new StateFileError("corrupt", "sections were removed, repeated or reordered", s.offset);
    const extra = await this.source.read(1);
    if (extra.length !== 0) throw new StateFileError("corrupt", "data after the end section", this.offset);
  }
}
