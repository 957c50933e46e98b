/**
 * Writing a state file section by section to a byte sink (format.ts). RAM goes out one chunk at a time
 * through a reused 1 MiB buffer, so saving a 4 GiB guest never holds a second copy of its RAM.
 */
import type { SavedState } from "../../base/state.js";
import { encodeState } from "./codec.js";
import { crc32 } from "./crc32.js";
import {
  CHUNK_PAGES,
  type ChunkCompression,
  END_BYTES,
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

/** Where the bytes go (a file in vmm/node/, memory in tests). */
export interface ByteSink {
  write(data: Uint8Array): Promise<void>;
}

/** What a finished state file holds. */
export interface StateFileStats {
  /** Bytes written in all. */
  bytes: number;
  sections: number;
  components: number;
  ramChunks: number;
  /** 4 KiB pages stored (the rest were zero). */
  ramPagesStored: number;
  ramPagesTotal: number;
}

/**
 * One state file being written. Version 1 (a file): begin(), component() for each, ram(), end(). Version
 * 2 (a pre-copy stream): begin(header, 2), ramRange() as often as needed, component() for each, end().
 */
export class StateFileWriter {
  private bytes = 0;
  private sections = 0;
  private components = 0;
  private ramChunks = 0;
  private ramPagesStored = 0;
  private ramPagesTotal = 0;
  /** CRC-32 over every section's CRC so far (the END section carries it). */
  private chain = 0;
  private stage: "new" | "components" | "ram" | "done" = "new";
  private version = STATE_FILE_VERSION;
  /** Reused page buffer for one chunk's stored pages. */
  private scratch: Uint8Array | null = null;

  constructor(
    private readonly sink: ByteSink,
    private readonly compression: ChunkCompression,
  ) {}

  private async put(data: Uint8Array): Promise<void> {
    await this.sink.write(data);
    this.bytes += data.length;
  }

  private async section(type: number, payload: Uint8Array): Promise<void> {
    const head = new Uint8Array(SECTION_HEADER_BYTES);
    const dv = new DataView(head.buffer);
    const crc = crc32(payload);
    dv.setUint32(0, type, true);
    dv.setUint32(4, 0, true);
    dv.setUint32(8, payload.length, true);
    dv.setUint32(12, crc, true);
    await this.put(head);
    await this.put(payload);
    const c = new Uint8Array(4);
    new DataView(c.buffer).setUint32(0, crc, true);
    this.chain = crc32(c, this.chain);
    this.sections++;
  }

  /** The preamble and the HEADER section; `version` 2 starts a pre-copy stream (RAM first). */
  async begin(
    header: StateFileHeader,
    version: typeof STATE_FILE_VERSION | typeof STATE_FILE_VERSION_PRECOPY = STATE_FILE_VERSION,
  ): Promise<void> {
    if (this.stage !== "new") throw new Error("begin() twice");
    this.version = version;
    const pre = new Uint8Array(PREAMBLE_BYTES);
    pre.set(STATE_FILE_MAGIC, 0);
    new DataView(pre.buffer).setUint32(8, version, true);
    await this.put(pre);
    await this.section(SECTION_HEADER, new TextEncoder().encode(JSON.stringify(header)));
    this.stage = version === STATE_FILE_VERSION ? "components" : "ram";
    this.ramPagesTotal = header.ramBytes / PAGE_SIZE;
  }

  /** One COMPONENT section. */
  async component(name: string, state: SavedState): Promise<void> {
    if (this.version === STATE_FILE_VERSION_PRECOPY && this.stage === "ram") this.stage = "components";
    if (this.stage !== "components") throw new Error("component() after ram() or before begin()");
    await this.section(SECTION_COMPONENT, encodeState({ name, state }));
    this.components++;
  }

  /**
   * Copy the non-zero pages of `count` pages from `first` into the scratch buffer: the chunk's bitmap and
   * how many pages it stores. Synchronous, so a running guest cannot write RAM in the middle of it.
   */
  private gather(words: Int32Array, ram: Uint8Array, first: number, count: number) {
    const scratch = (this.scratch ??= new Uint8Array(CHUNK_PAGES * PAGE_SIZE));
    const wordsPerPage = PAGE_SIZE / 4;
    const bitmap = new Uint8Array(Math.ceil(count / 8));
    let stored = 0;
    for (let i = 0; i < count; i++) {
      const w0 = (first + i) * wordsPerPage;
      let nonzero = false;
      for (let w = w0; w < w0 + wordsPerPage; w++) {
        if (words[w] !== 0) {
          nonzero = true;
          break;
        }
      }
      if (!nonzero) continue;
      bitmap[i >> 3] |= 1 << (i & 7);
      const off = (first + i) * PAGE_SIZE;
      scratch.set(ram.subarray(off, off + PAGE_SIZE), stored * PAGE_SIZE);
      stored++;
    }
    return { bitmap, stored, data: scratch.subarray(0, stored * PAGE_SIZE) };
  }

  /** One RAM section for pages first..first+count-1 as gathered; the data is compressed first. */
  private async chunk(first: number, count: number, bitmap: Uint8Array, data: Uint8Array, stored: number) {
    const packed = await this.compression.deflate(data);
    const payload = new Uint8Array(8 + bitmap.length + packed.length);
    const dv = new DataView(payload.buffer);
    dv.setUint32(0, first, true);
    dv.setUint32(4, count, true);
    payload.set(bitmap, 8);
    payload.set(packed, 8 + bitmap.length);
    await this.section(SECTION_RAM, payload);
    this.ramChunks++;
    this.ramPagesStored += stored;
  }

  /**
   * Version 2 only: one RAM chunk holding pages first..first+count-1 (count ≤ CHUNK_PAGES) as they are
   * now, replacing whatever earlier chunks held for them. The pages are copied out synchronously (the
   * guest may run during the compression and the write: what it writes then is the dirty log's next
   * round). `skipEmpty`: write nothing when every page is zero (the reader's RAM starts zeroed, so only a
   * range written before needs an empty chunk). Returns the pages stored (-1: nothing written). Calls
   * must not overlap (one scratch buffer).
   */
  async ramRange(ram: Uint8Array, first: number, count: number, skipEmpty: boolean): Promise<number> {
    if (this.version !== STATE_FILE_VERSION_PRECOPY || this.stage !== "ram")
      throw new Error("ramRange() outside a pre-copy stream's RAM part");
    if (ram.length % PAGE_SIZE !== 0 || ram.byteOffset % 4 !== 0)
      throw new Error("RAM must be whole, aligned pages");
    const pages = ram.length / PAGE_SIZE;
    if (count < 1 || count > CHUNK_PAGES || first < 0 || first + count > pages)
      throw new Error(`RAM range ${first}+${count} is not a chunk of ${pages} pages`);
    const words = new Int32Array(ram.buffer, ram.byteOffset, ram.length / 4);
    const g = this.gather(words, ram, first, count);
    if (g.stored === 0 && skipEmpty) return -1;
    await this.chunk(first, count, g.bitmap, g.data, g.stored);
    return g.stored;
  }

  /**
   * All of guest RAM as RAM chunks: all-zero pages are skipped, the rest of each chunk is copied into
   * one reused buffer and compressed. `ram` is the live RAM view; the VM must be paused.
   */
  async ram(ram: Uint8Array): Promise<void> {
    if (this.version !== STATE_FILE_VERSION || this.stage !== "components")
      throw new Error("ram() twice, before begin() or in a pre-copy stream");
    this.stage = "ram";
    if (ram.length % PAGE_SIZE !== 0 || ram.byteOffset % 4 !== 0)
      throw new Error("RAM must be whole, aligned pages");
    const words = new Int32Array(ram.buffer, ram.byteOffset, ram.length / 4);
    const pages = ram.length / PAGE_SIZE;
    this.ramPagesTotal = pages;
    for (let first = 0; first < pages; first += CHUNK_PAGES) {
      const count = Math.min(CHUNK_PAGES, pages - first);
      const g = this.gather(words, ram, first, count);
      if (g.stored === 0) continue;
      await this.chunk(first, count, g.bitmap, g.data, g.stored);
    }
  }

  /** The END section; returns what was written. */
  async end(): Promise<StateFileStats> {
    const ready = this.version === STATE_FILE_VERSION ? "ram" : "components";
    if (this.stage !== ready) throw new Error("end() before ram() or the components");
    const payload = new Uint8Array(END_BYTES);
    const dv = new DataView(payload.buffer);
    dv.setUint32(0, this.sections, true);
    dv.setUint32(4, this.components, true);
    dv.setUint32(8, this.ramChunks, true);
    dv.setUint32(12, this.ramPagesStored, true);
    dv.setUint32(16, this.chain, true);
    await this.section(SECTION_END, payload);
    this.stage = "done";
    return {
      bytes: this.bytes,
      sections: this.sections,
      components: this.components,
      ramChunks: this.ramChunks,
      ramPagesStored: this.ramPagesStored,
      ramPagesTotal: this.ramPagesTotal,
    };
  }
}
