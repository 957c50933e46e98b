/** A bounded FIFO of bytes (a ring buffer): host input waiting for a guest device, never growing past its capacity. */

/**
 * Host streams (a pipe from /dev/zero, a paste) can deliver input far faster than a guest takes it.
 * Like a UART's receive FIFO, this queue holds at most `capacity` bytes; what does not fit is refused
 * (push returns how much it took) rather than growing host memory with the input.
 */
export class ByteQueue {
  private readonly buf: Uint8Array;
  private head = 0;
  private count = 0;

  constructor(readonly capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity <= 0) throw new RangeError(`capacity ${capacity}`);
    this.buf = new Uint8Array(capacity);
  }

  get length(): number {
    return this.count;
  }

  /** Append as much of `data` as fits; returns the number of bytes taken (the rest is the caller's to drop). */
  push(data: Uint8Array): number {
    const n = Math.min(data.length, this.capacity - this.count);
    let tail = (this.head + this.count) % this.capacity;
    let done = 0;
    while (done < n) {
      const run = Math.min(n - done, this.capacity - tail);
      this.buf.set(data.subarray(done, done + run), tail);
      done += run;
      tail = (tail + run) % this.capacity;
    }
    this.count += n;
    return n;
  }

  /** Remove and return up to `n` of the oldest bytes. */
  take(n: number): Uint8Array {
    const out = this.peek(Math.min(n, this.count));
    this.head = (this.head + out.length) % this.capacity;
    this.count -= out.length;
    return out;
  }

  /** A copy of the queued bytes, oldest first (for save()); the queue is unchanged. */
  toArray(): Uint8Array {
    return this.peek(this.count);
  }

  private peek(n: number): Uint8Array {
    const out = new Uint8Array(n);
    const first = Math.min(n, this.capacity - this.head);
    out.set(this.buf.subarray(this.head, this.head + first));
    if (first < n) out.set(this.buf.subarray(0, n - first), first);
    return out;
  }

  /** The oldest byte, removed; -1 when empty. */
  shift(): number {
    if (this.count === 0) return -1;
    const b = this.buf[this.head];
    this.head = (this.head + 1) % this.capacity;
    this.count--;
    return b;
  }

  clear(): void {
    this.head = 0;
    this.count = 0;
  }
}
