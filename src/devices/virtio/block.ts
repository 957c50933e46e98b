/** The virtio block device (VIRTIO 1.2 §5.2) over an asynchronous BlockBackend. */
/*
 * Usage: new VirtioBlock({ backend, readOnly?, serial?, queueSize? }) inside a VirtioMmioTransport.
 * Before save(), await `drain()` so no request is in flight (save() throws otherwise).
 *
 * Each request is started when the driver notifies; the backend resolves it later, in any order,
 * and only then is the chain returned to the used ring and the interrupt raised. A reset between
 * start and completion discards the completion (the epoch check), so a stale backend reply never
 * writes into memory the driver has since reused.
 */

import { errorMessage } from "../../base/errors.js";
import { type SavedState, StateReader } from "../../base/state.js";
import { TWO_POW_32 } from "../../base/u64.js";
import type { BlockBackend } from "../../io/block-backend.js";
import type { AccessSize } from "../../memory/mmio.js";
import { VIRTIO_ID_BLOCK } from "./constants.js";
import { readConfigBytes, type VirtioDevice, type VirtioHost } from "./device.js";
import type { DescriptorChain } from "./queue.js";

// §5.2.3 feature bits.
export const VIRTIO_BLK_F_SEG_MAX = 2;
export const VIRTIO_BLK_F_RO = 5;
export const VIRTIO_BLK_F_BLK_SIZE = 6;
export const VIRTIO_BLK_F_FLUSH = 9;
export const VIRTIO_BLK_F_DISCARD = 13;
export const VIRTIO_BLK_F_WRITE_ZEROES = 14;

// §5.2.6 request types and status values.
export const VIRTIO_BLK_T_IN = 0;
export const VIRTIO_BLK_T_OUT = 1;
export const VIRTIO_BLK_T_FLUSH = 4;
export const VIRTIO_BLK_T_GET_ID = 8;
export const VIRTIO_BLK_T_DISCARD = 11;
export const VIRTIO_BLK_T_WRITE_ZEROES = 13;
export const VIRTIO_BLK_S_OK = 0;
export const VIRTIO_BLK_S_IOERR = 1;
export const VIRTIO_BLK_S_UNSUPP = 2;

/** §5.2.6: the ID string is at most 20 bytes. */
export const VIRTIO_BLK_ID_BYTES = 20;
const SECTOR = 512;
const HEADER_BYTES = 16;
/** §5.2.6: struct virtio_blk_discard_write_zeroes. */
const SEGMENT_BYTES = 16;
const VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP = 1;
/** Per-request limits advertised for discard and write-zeroes (sectors), as QEMU's defaults. */
const MAX_DISCARD_SECTORS = 0x3fffff;
const MAX_DISCARD_SEG = 1;
/** Largest data transfer accepted in one request, so a hostile chain cannot make us allocate gigabytes. */
const MAX_TRANSFER = 64 * 1024 * 1024;
/**
 * Host buffer bytes all started, uncompleted requests may hold together. Without this bound a driver
 * can post a full ring of MAX_TRANSFER requests (descriptors may all alias one small RAM buffer) and
 * make the host allocate queueSize * 64 MiB at once. Past it, requests wait in the ring until
 * earlier ones complete, which a driver cannot tell from a slow disk (§2.7.13: the device consumes
 * available buffers in its own time).
 */
const MAX_INFLIGHT_BYTES = 64 * 1024 * 1024;
const CONFIG_BYTES = 60;

export interface VirtioBlockOptions {
  backend: BlockBackend;
  /** Offer VIRTIO_BLK_F_RO and fail writes (default: the backend's readOnly). */
  readOnly?: boolean;
  /** Returned by VIRTIO_BLK_T_GET_ID (truncated to 20 bytes). */
  serial?: string;
  queueSize?: number;
}

/** virtio-blk with one request queue. */
export class VirtioBlock implements VirtioDevice {
  readonly deviceId = VIRTIO_ID_BLOCK;
  readonly queueMaxSizes: readonly number[];
  readonly configSize = CONFIG_BYTES;
  readonly readOnly: boolean;
  private readonly backend: BlockBackend;
  private readonly serial: Uint8Array;
  private readonly config = new Uint8Array(CONFIG_BYTES);
  private readonly header = new Uint8Array(HEADER_BYTES);
  private readonly headerView = new DataView(this.header.buffer);
  private readonly statusByte = new Uint8Array(1);
  private host: VirtioHost | null = null;
  /** Bumped on reset: completions of an older epoch are dropped. */
  private epoch = 0;
  private readonly inflight = new Set<Promise<void>>();
  /** Host buffer bytes held by in-flight requests (see MAX_INFLIGHT_BYTES). */
  private inflightBytes = 0;
  /** The ring holds requests that wait for in-flight ones to release buffer space. */
  private stalled = false;

  constructor(opts: VirtioBlockOptions) {
    this.backend = opts.backend;
    this.readOnly = opts.readOnly ?? opts.backend.readOnly;
    this.queueMaxSizes = [opts.queueSize ?? 256];
    this.serial = new Uint8Array(VIRTIO_BLK_ID_BYTES);
    this.serial.set(new TextEncoder().encode(opts.serial ?? "").subarray(0, VIRTIO_BLK_ID_BYTES));
    this.buildConfig();
  }

  /** Capacity in 512-byte sectors. */
  get capacity(): number {
    return Math.floor(this.backend.size / SECTOR);
  }

  /** Number of requests started and not yet completed. */
  get inflightCount(): number {
    return this.inflight.size;
  }

  /** Resolve once every in-flight request has completed (before save, shutdown or migration). */
  async drain(): Promise<void> {
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
  }

  deviceFeatures(bank: number): number {
    if (bank !== 0) return 0;
    let f =
      (1 << VIRTIO_BLK_F_SEG_MAX) |
      (1 << VIRTIO_BLK_F_BLK_SIZE) |
      (1 << VIRTIO_BLK_F_FLUSH) |
      (1 << VIRTIO_BLK_F_DISCARD) |
      (1 << VIRTIO_BLK_F_WRITE_ZEROES);
    if (this.readOnly) f |= 1 << VIRTIO_BLK_F_RO;
    return f >>> 0;
  }

  readConfig(offset: number, size: AccessSize): number {
    return readConfigBytes(this.config, offset, size);
  }

  writeConfig(): void {
    // §5.2.4: only `writeback` is writable, and only with VIRTIO_BLK_F_CONFIG_WCE, which we do not offer.
  }

  attach(host: VirtioHost): void {
    this.host = host;
  }

  activate(): void {}

  reset(): void {
    this.epoch++;
    this.stalled = false;
  }

  notify(index: number): void {
    const host = this.host;
    if (host === null || index !== 0) return;
    this.processQueue(host);
  }

  /** Start every available request, until the ring is empty or the in-flight buffer budget is spent. */
  private processQueue(host: VirtioHost): void {
    const q = host.queue(0);
    for (let chain = q.pop(); chain !== null; chain = q.pop()) {
      // The most this request can allocate (start() rejects larger transfers without allocating).
      const cost = Math.min(Math.max(chain.readBytes - HEADER_BYTES, chain.writeBytes - 1, 0), MAX_TRANSFER);
      if (this.inflight.size > 0 && this.inflightBytes + cost > MAX_INFLIGHT_BYTES) {
        q.unpop();
        this.stalled = true;
        return;
      }
      this.start(host, chain, cost);
    }
  }

  save(): SavedState {
    if (this.inflight.size > 0)
      throw new Error("virtio-blk has requests in flight; await drain() before save()");
    return { kind: "virtio-blk", version: 1, capacity: this.capacity, readOnly: this.readOnly };
  }

  /** The saved disk must be the one attached: same capacity and the same read-only flag. */
  restore(state: SavedState): void {
    const r = new StateReader(state, "virtio-blk", "virtio-blk", 1);
    const capacity = r.int("capacity", 0, Number.MAX_SAFE_INTEGER);
    if (capacity !== this.capacity)
      r.fail("capacity", `the disk has ${this.capacity} sectors, the state ${capacity}`, capacity);
    const readOnly = r.bool("readOnly");
    if (readOnly !== this.readOnly)
      r.fail("readOnly", `the disk is attached ${this.readOnly ? "read-only" : "read-write"}`, readOnly);
    r.done();
    this.epoch++;
  }

  /** §5.2.4 struct virtio_blk_config, little-endian. */
  private buildConfig(): void {
    const v = new DataView(this.config.buffer);
    const cap = this.capacity;
    v.setUint32(0, cap % TWO_POW_32, true);
    v.setUint32(4, Math.floor(cap / TWO_POW_32), true);
    v.setUint32(8, 0, true); // size_max (VIRTIO_BLK_F_SIZE_MAX not offered)
    v.setUint32(12, this.queueMaxSizes[0] - 2, true); // seg_max: header and status take two descriptors
    v.setUint32(20, SECTOR, true); // blk_size
    v.setUint16(34, 1, true); // num_queues
    v.setUint32(36, MAX_DISCARD_SECTORS, true);
    v.setUint32(40, MAX_DISCARD_SEG, true);
    v.setUint32(44, 1, true); // discard_sector_alignment (sectors)
    v.setUint32(48, MAX_DISCARD_SECTORS, true); // max_write_zeroes_sectors
    v.setUint32(52, MAX_DISCARD_SEG, true); // max_write_zeroes_seg
    this.config[56] = 1; // write_zeroes_may_unmap
  }

  /** Parse one request (§5.2.6) and start its backend operation. */
  private start(host: VirtioHost, chain: DescriptorChain, cost: number): void {
    // §5.2.6.1: header (16 readable bytes) first, status (1 writable byte) last.
    if (chain.readBytes < HEADER_BYTES || chain.writeBytes < 1) {
      host.fail("virtio-blk request without header or status byte");
      return;
    }
    chain.read(0, this.header);
    const type = this.headerView.getUint32(0, true);
    const sector = this.headerView.getUint32(8, true) + this.headerView.getUint32(12, true) * TWO_POW_32;
    const dataOut = chain.readBytes - HEADER_BYTES;
    const dataIn = chain.writeBytes - 1;
    const size = this.backend.size;
    const inRange = (sec: number, bytes: number): boolean =>
      sec <= this.capacity && sec * SECTOR + bytes <= this.capacity * SECTOR && bytes <= size;

    switch (type) {
      case VIRTIO_BLK_T_IN: {
        if (dataIn % SECTOR !== 0 || dataIn > MAX_TRANSFER || !inRange(sector, dataIn)) {
          this.finish(host, chain, VIRTIO_BLK_S_IOERR, 0);
          return;
        }
        const buf = new Uint8Array(dataIn);
        this.track(host, chain, cost, this.backend.read(sector * SECTOR, buf), () => {
          chain.write(0, buf);
          return dataIn;
        });
        return;
      }
      case VIRTIO_BLK_T_OUT: {
        if (this.readOnly || dataOut % SECTOR !== 0 || dataOut > MAX_TRANSFER || !inRange(sector, dataOut)) {
          this.finish(host, chain, VIRTIO_BLK_S_IOERR, 0);
          return;
        }
        const buf = new Uint8Array(dataOut);
        chain.read(HEADER_BYTES, buf);
        this.track(host, chain, cost, this.backend.write(sector * SECTOR, buf), () => 0);
        return;
      }
      case VIRTIO_BLK_T_FLUSH:
        this.track(host, chain, 0, this.backend.flush(), () => 0);
        return;
      case VIRTIO_BLK_T_GET_ID: {
        const n = chain.write(0, this.serial.subarray(0, Math.min(VIRTIO_BLK_ID_BYTES, dataIn)));
        this.finish(host, chain, VIRTIO_BLK_S_OK, n);
        return;
      }
      case VIRTIO_BLK_T_DISCARD:
      case VIRTIO_BLK_T_WRITE_ZEROES: {
        const discard = type === VIRTIO_BLK_T_DISCARD;
        const feature = discard ? VIRTIO_BLK_F_DISCARD : VIRTIO_BLK_F_WRITE_ZEROES;
        if (!host.hasFeature(feature)) {
          this.finish(host, chain, VIRTIO_BLK_S_UNSUPP, 0);
          return;
        }
        const count = dataOut / SEGMENT_BYTES;
        if (this.readOnly || !Number.isInteger(count) || count < 1 || count > MAX_DISCARD_SEG) {
          this.finish(host, chain, VIRTIO_BLK_S_IOERR, 0);
          return;
        }
        const seg = new Uint8Array(SEGMENT_BYTES);
        chain.read(HEADER_BYTES, seg);
        const sv = new DataView(seg.buffer);
        const segSector = sv.getUint32(0, true) + sv.getUint32(4, true) * TWO_POW_32;
        const sectors = sv.getUint32(8, true);
        const flags = sv.getUint32(12, true);
        // §5.2.6.2: unmap is only meaningful for write-zeroes; other flag bits are reserved.
        if ((discard && flags !== 0) || (flags & ~VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP) !== 0) {
          this.finish(host, chain, VIRTIO_BLK_S_UNSUPP, 0);
          return;
        }
        if (sectors > MAX_DISCARD_SECTORS || !inRange(segSector, sectors * SECTOR)) {
          this.finish(host, chain, VIRTIO_BLK_S_IOERR, 0);
          return;
        }
        const off = segSector * SECTOR;
        const len = sectors * SECTOR;
        const op = discard ? this.backend.discard(off, len) : this.backend.writeZeroes(off, len);
        this.track(host, chain, 0, op, () => 0);
        return;
      }
      default:
        this.finish(host, chain, VIRTIO_BLK_S_UNSUPP, 0);
    }
  }

  /** Await a backend operation; `onOk` copies data to the guest and returns the bytes written before the status. */
  private track(
    host: VirtioHost,
    chain: DescriptorChain,
    cost: number,
    op: Promise<void>,
    onOk: () => number,
  ): void {
    const epoch = this.epoch;
    this.inflightBytes += cost;
    const p = op.then(
      () => {
        if (epoch !== this.epoch) return;
        this.finish(host, chain, VIRTIO_BLK_S_OK, onOk());
      },
      () => {
        if (epoch !== this.epoch) return;
        this.finish(host, chain, VIRTIO_BLK_S_IOERR, 0);
      },
    );
    const done = p
      .catch((e: unknown) => host.fail(errorMessage(e)))
      .finally(() => {
        this.inflight.delete(done);
        this.inflightBytes -= cost;
        if (this.stalled) this.resume(host);
      });
    this.inflight.add(done);
  }

  /** Continue a stalled ring once buffer space is free; outside an MMIO access, so errors go to host.fail. */
  private resume(host: VirtioHost): void {
    this.stalled = false;
    if (!host.isActive()) return;
    try {
      this.processQueue(host);
    } catch (e) {
      host.fail(errorMessage(e));
    }
  }

  /** Write the status byte (last writable byte) and return the chain (§5.2.6.1 used length counts it). */
  private finish(host: VirtioHost, chain: DescriptorChain, status: number, dataLen: number): void {
    if (!host.isActive()) return;
    this.statusByte[0] = status;
    chain.write(chain.writeBytes - 1, this.statusByte);
    host.queue(0).push(chain.head, dataLen + 1);
    host.usedBuffers(0);
  }
}
