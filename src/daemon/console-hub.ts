/** One VM's console fan-out: a bounded ring of recent output, replayed to late viewers, and bounded viewers. */
/*
 * Output from the guest must never wait for a viewer (the VM would stall behind the slowest reader) and
 * must never pile up in memory (a viewer that stopped reading would grow it without bound). So each
 * viewer reports how many bytes it still has queued; past VIEWER_MAX_QUEUED it is dropped with a reason,
 * and may reconnect (the ring then replays what it missed, up to RING_BYTES).
 */

export const RING_BYTES = 64 * 1024;
export const VIEWER_MAX_QUEUED = 1024 * 1024;

export interface ConsoleViewer {
  send(data: Uint8Array): void;
  /** Bytes accepted by send() and not yet handed to the network (WebSocket.bufferedAmount). */
  queuedBytes(): number;
  close(reason: string): void;
}

/** A byte ring that keeps the last `capacity` bytes written. */
export class ByteRing {
  private readonly buf: Uint8Array;
  private start = 0;
  private length = 0;
  constructor(readonly capacity: number) {
    this.buf = new Uint8Array(capacity);
  }

  write(data: Uint8Array): void {
    if (data.length >= this.capacity) {
      this.buf.set(data.subarray(data.length - this.capacity));
      this.start = 0;
      this.length = this.capacity;
      return;
    }
    const end = (this.start + this.length) % this.capacity;
    const first = Math.min(data.length, this.capacity - end);
    this.buf.set(data.subarray(0, first), end);
    this.buf.set(data.subarray(first), 0);
    const total = this.length + data.length;
    if (total > this.capacity) {
      this.start = (this.start + total - this.capacity) % this.capacity;
      this.length = this.capacity;
    } else this.length = total;
  }

  /** The kept bytes, oldest first. */
  contents(): Uint8Array {
    const out = new Uint8Array(this.length);
    const first = Math.min(this.length, this.capacity - this.start);
    out.set(this.buf.subarray(this.start, this.start + first));
    out.set(this.buf.subarray(0, this.length - first), first);
    return out;
  }
}

export class ConsoleHub {
  private readonly ring = new ByteRing(RING_BYTES);
  private readonly viewers = new Set<ConsoleViewer>();
  /** Viewers dropped for not keeping up, for the log and tests. */
  dropped = 0;

  get viewerCount(): number {
    return this.viewers.size;
  }

  /** Guest output: into the ring and to every viewer that keeps up. */
  write(data: Uint8Array): void {
    this.ring.write(data);
    for (const v of this.viewers) {
      if (v.queuedBytes() + data.length > VIEWER_MAX_QUEUED) {
        this.viewers.delete(v);
        this.dropped++;
        v.close("console viewer too slow: more than 1 MiB of output unread");
        continue;
      }
      v.send(data);
    }
  }

  /** Attach a viewer; it first gets the recent output. */
  attach(v: ConsoleViewer): void {
    const recent = this.ring.contents();
    if (recent.length > 0) v.send(recent);
    this.viewers.add(v);
  }

  detach(v: ConsoleViewer): void {
    this.viewers.delete(v);
  }

  /** Close every viewer (the VM stopped). */
  closeAll(reason: string): void {
    for (const v of this.viewers) v.close(reason);
    this.viewers.clear();
  }

  /** Recent output (for tests and `inspect`). */
  recent(): Uint8Array {
    return this.ring.contents();
  }
}
