/** QEMU's stream framing for Ethernet frames: a 32-bit big-endian length before each frame. */
/*
 * Used by QEMU's `-netdev socket,listen=|connect=` and `-netdev stream` (net/stream.c, net/socket.c:
 * `net_fill_rstate`) and by passt's `--fd`/socket interface (passt(1), "qemu" mode). The peer controls
 * every byte, so the decoder holds at most one frame in progress, and a length that no Ethernet frame
 * can have (0, or beyond MAX_STREAM_FRAME) is an error: the stream cannot be resynchronised after it,
 * so the caller drops the connection (QEMU disconnects likewise on a too-big length).
 */

/** Bytes of the length prefix. */
export const STREAM_LENGTH_BYTES = 4;
/**
 * Largest frame accepted: the Ethernet header (14) + an 802.1Q tag (4) + the largest MTU a Linux
 * guest can set (ETH_MAX_MTU 65535). virtio-net carries no larger frame either way.
 */
export const MAX_STREAM_FRAME = 14 + 4 + 65535;

/** Prefix `frame` with its length for the wire. */
export function encodeStreamFrame(frame: Uint8Array): Uint8Array {
  const out = new Uint8Array(STREAM_LENGTH_BYTES + frame.length);
  new DataView(out.buffer).setUint32(0, frame.length, false);
  out.set(frame, STREAM_LENGTH_BYTES);
  return out;
}

/** Thrown by `StreamFrameDecoder.push` on a length no frame can have; the stream is unusable after it. */
export class StreamFramingError extends Error {
  constructor(readonly length: number) {
    super(`malformed stream frame length ${length} (must be 1..${MAX_STREAM_FRAME})`);
    this.name = "StreamFramingError";
  }
}

/** Splits a byte stream into frames; keeps at most one partial frame (≤ 4 + MAX_STREAM_FRAME bytes). */
export class StreamFrameDecoder {
  private readonly header = new Uint8Array(STREAM_LENGTH_BYTES);
  private headerFill = 0;
  private frame: Uint8Array | null = null;
  private frameFill = 0;

  /** Feed bytes; `emit` receives each complete frame (a fresh array it may keep). */
  push(chunk: Uint8Array, emit: (frame: Uint8Array) => void): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.frame === null) {
        const n = Math.min(STREAM_LENGTH_BYTES - this.headerFill, chunk.length - at);
        this.header.set(chunk.subarray(at, at + n), this.headerFill);
        this.headerFill += n;
        at += n;
        if (this.headerFill < STREAM_LENGTH_BYTES) return;
        const length = new DataView(this.header.buffer).getUint32(0, false);
        this.headerFill = 0;
        // Checked before allocating: the length is the peer's claim.
        if (length === 0 || length > MAX_STREAM_FRAME) throw new StreamFramingError(length);
        this.frame = new Uint8Array(length);
        this.frameFill = 0;
      }
      const n = Math.min(this.frame.length - this.frameFill, chunk.length - at);
      this.frame.set(chunk.subarray(at, at + n), this.frameFill);
      this.frameFill += n;
      at += n;
      if (this.frameFill === this.frame.length) {
        const done = this.frame;
        this.frame = null;
        emit(done);
      }
    }
  }

  /** Forget any partial frame (a new connection starts a new stream). */
  reset(): void {
    this.headerFill = 0;
    this.frame = null;
    this.frameFill = 0;
  }

  /** Bytes of an unfinished frame or length are held (a peer that closed mid-frame sent a truncated one). */
  get partial(): boolean {
    return this.headerFill > 0 || this.frame !== null;
  }
}
