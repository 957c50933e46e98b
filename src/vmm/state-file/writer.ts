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

/** One state file being written: begin(), component() for each, ram(), end(), in that order. */
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

  /** The preamble and the HEADER section. */
  async begin(header: StateFileHeader): Promise<void> {
    if (this.stage !== "new") throw new Error("begin() twice");
    const pre = new Uint8Array(PREAMBLE_BYTES);
    pre.set(STATE_FILE_MAGIC, 0);
    new DataView(pre.buffer).setUint32(8, STATE_FILE_VERSION, true);
    await this.put(pre);
    await this.section(SECTION_HEADER, new TextEncoder().encode(JSON.stringify(header)));
    this.stage = "components";
  }

  /** One COMPONENT section. */
  async component(name: string, state: SavedState): Promise<void> {
    if (this.stage !== "components") throw new Error("component() after ram() or before begin()");
    await this.section(SECTION_COMPONENT, encodeState({ name, state }));
    this.components++;
  }

  /**
   * All of guest RAM as RAM chunks: all-zero pages are skipped, the rest of each chunk is copied into
   * one reused buffer and compressed. `ram` is the live RAM view; the VM must be paused.
   */
  async ram(ram: Uint8Array): Promise<void> {
    if (this.stage !== "components") throw new Error("ram() twice or before begin()");
    this.stage = "ram";
    if (ram.length % PAGE_SIZE !== 0 || ram.byteOffset % 4 !== 0)
      throw new Error("RAM must be whole, aligned pages");
    const words = new Int32Array(ram.buffer, ram.byteOffset, ram.length / 4);
    const pages = ram.length / PAGE_SIZE;
    this.ramPagesTotal = pages;
    const scratch = new Uint8Array(CHUNK_PAGES * PAGE_SIZE);
    const wordsPerPage = PAGE_SIZE / 4;
    for (let first = 0; first < pages; first += CHUNK_PAGES) {
      const count = Math.min(CHUNK_PAGES, pages - first);
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
      if (stored === 0) continue;
      const packed = await this.compression.deflate(scratch.subarray(0, stored * PAGE_SIZE));
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
  }

  /** The END section; returns what was written. */
  async end(): Promise<StateFileStats> {
    if (this.stage !== "ram") throw new Error("end() before ram()");
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
