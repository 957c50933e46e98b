/** The stdio CharBackend: the guest console on the terminal (raw mode, Ctrl-A X) or on plain pipes. */
/*
 * stdin and stdout are host streams the guest does not control but the user's shell does: stdout may be
 * a pipe whose reader exits (`tvisor run | head -1`: EPIPE) or stalls, stdin may be endless
 * (`cat /dev/zero | tvisor run`). Neither may crash the process or grow memory without bound: a closed
 * stdout ends the run through onOutputClosed, output beyond MAX_OUTPUT_BACKLOG unsent bytes is dropped
 * (and counted), and input that arrives before the guest listens is kept only up to MAX_EARLY_INPUT.
 */
import type { CharBackend } from "../char-backend.js";
import { ConsoleEscape, ESCAPE_HELP } from "./console-escape.js";

/** The subset of process.stdin we use, so tests can pass a stream of their own. */
export interface ConsoleInput {
  isTTY?: boolean;
  setRawMode?(mode: boolean): unknown;
  on(event: "data", fn: (chunk: Buffer | string) => void): unknown;
  on(event: "error", fn: (err: Error) => void): unknown;
  off(event: "data", fn: (chunk: Buffer | string) => void): unknown;
  off(event: "error", fn: (err: Error) => void): unknown;
  resume(): unknown;
  pause(): unknown;
}

export interface ConsoleOutput {
  write(data: Uint8Array | string): unknown;
  /** Stream errors (EPIPE when the reader of a pipe has gone); absent on simple test sinks. */
  on?(event: "error", fn: (err: Error) => void): unknown;
  /** Bytes accepted but not yet written to the file descriptor (a stream's backlog). */
  readonly writableLength?: number;
}

/** Input bytes kept for a receiver that is not registered yet; the rest of a flood is dropped. */
export const MAX_EARLY_INPUT = 1 << 20;
/**
 * Output bytes a stalled reader may leave queued in the process before further output is dropped.
 * Node queues writes to a pipe without limit, so a guest printing forever into `| less` (paused) would
 * otherwise exhaust host memory.
 */
export const MAX_OUTPUT_BACKLOG = 8 << 20;

/** How much output is gathered before it is handed to stdout in one write. */
const OUTPUT_STAGING_BYTES = 16 << 10;

export interface StdioConsoleOptions {
  input?: ConsoleInput;
  output?: ConsoleOutput;
  /** Called when the user types Ctrl-A X on a terminal. */
  onQuit?: () => void;
  /** Called once when the output fails (EPIPE: its reader has gone); later output is discarded. */
  onOutputClosed?: (err: Error) => void;
}

/**
 * On a terminal the input goes raw (so Ctrl-C reaches the guest) and Ctrl-A escapes are interpreted;
 * on pipes bytes pass straight through so scripts can drive the guest.
 */
export class StdioConsole implements CharBackend {
  private handler: ((data: Uint8Array) => void) | null = null;
  private readonly escape = new ConsoleEscape();
  private readonly input: ConsoleInput;
  private readonly output: ConsoleOutput;
  private readonly raw: boolean;
  private closed = false;
  private outputFailed = false;
  private inputStopped = false;
  /** Why input is paused: the early buffer is full, and/or the receiver asked (setInputPaused). */
  private pausedForEarly = false;
  private pausedByReceiver = false;
  /** Output bytes dropped because the reader was not keeping up (see MAX_OUTPUT_BACKLOG). */
  droppedOutput = 0;
  /** Input read before a receiver was registered, at most MAX_EARLY_INPUT bytes. */
  private readonly early: Uint8Array[] = [];
  private earlyBytes = 0;
  /** Output gathered since the last flush (see write). */
  private readonly staging = new Uint8Array(OUTPUT_STAGING_BYTES);
  private stagedBytes = 0;
  private flushQueued = false;
  private readonly listener = (chunk: Buffer | string) => this.receive(chunk);
  /** A read error (EIO on a hung-up terminal) ends input; it must not become an uncaught 'error'. */
  private readonly inputError = () => this.stopInput();
  private readonly outputError = (err: Error) => {
    if (this.outputFailed) return;
    this.outputFailed = true;
    this.opts.onOutputClosed?.(err);
  };

  constructor(private readonly opts: StdioConsoleOptions = {}) {
    this.input = opts.input ?? process.stdin;
    this.output = opts.output ?? process.stdout;
    this.raw = this.input.isTTY === true && typeof this.input.setRawMode === "function";
    if (this.raw) this.input.setRawMode?.(true);
    this.input.on("data", this.listener);
    this.input.on("error", this.inputError);
    this.output.on?.("error", this.outputError);
    this.input.resume();
  }

  /** Whether the output has failed (its reader closed the pipe). */
  get outputClosed(): boolean {
    return this.outputFailed;
  }

  /**
   * Guest output is gathered and handed to stdout once per turn of the event loop. The bytes are copied:
   * a device may reuse its buffer as soon as write returns (the UART passes the same one-byte array for
   * every character), and a stream that cannot write at once keeps a reference to what it was given, so
   * passing the device's buffer through made a slow reader receive the last character many times over.
   * Gathering also spares stdout one system call per character.
   */
  write(data: Uint8Array): void {
    if (this.closed || this.outputFailed) return;
    if ((this.output.writableLength ?? 0) + this.stagedBytes + data.length > MAX_OUTPUT_BACKLOG) {
      this.droppedOutput += data.length;
      return;
    }
    if (this.stagedBytes + data.length > this.staging.length) this.flush();
    if (data.length >= this.staging.length) {
      this.output.write(Buffer.from(data));
      return;
    }
    this.staging.set(data, this.stagedBytes);
    this.stagedBytes += data.length;
    if (!this.flushQueued) {
      this.flushQueued = true;
      queueMicrotask(() => this.flush());
    }
  }

  /** Hand the gathered output to stdout now (also done at the end of every event-loop turn, and by close). */
  flush(): void {
    this.flushQueued = false;
    if (this.stagedBytes === 0 || this.outputFailed) {
      this.stagedBytes = 0;
      return;
    }
    const out = Buffer.from(this.staging.subarray(0, this.stagedBytes));
    this.stagedBytes = 0;
    this.output.write(out);
  }

  /** One receiver at a time: a rebooted machine's console device (UART or virtio console) replaces the previous one. */
  onInput(handler: (data: Uint8Array) => void): void {
    this.handler = handler;
    // Input that came before any machine was listening (a script piped in at start-up) is not lost.
    const early = this.early.splice(0);
    this.earlyBytes = 0;
    for (const b of early) handler(b);
    // A new receiver (a rebooted board) starts with an empty queue: whatever paused input is over.
    this.pausedForEarly = false;
    this.pausedByReceiver = false;
    this.updatePause();
  }

  /** The receiver's flow control: pause reading stdin while its queue is full (no input is lost). */
  setInputPaused(paused: boolean): void {
    this.pausedByReceiver = paused;
    this.updatePause();
  }

  private updatePause(): void {
    // On a terminal input comes at typing speed and must keep flowing so Ctrl-A X is always seen.
    if (this.inputStopped || this.raw) return;
    if (this.pausedForEarly || this.pausedByReceiver) this.input.pause();
    else this.input.resume();
  }

  /** Restore the terminal and stop reading stdin, so the process can exit. */
  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    this.stopInput();
  }

  private stopInput(): void {
    if (this.inputStopped) return;
    this.inputStopped = true;
    this.input.off("data", this.listener);
    if (this.raw) this.input.setRawMode?.(false);
    this.input.pause();
  }

  private receive(chunk: Buffer | string): void {
    let bytes: Uint8Array =
      typeof chunk === "string" ? new TextEncoder().encode(chunk) : new Uint8Array(chunk);
    if (this.raw) {
      const r = this.escape.feed(bytes);
      bytes = r.data;
      for (const a of r.actions) {
        this.flush();
        if (a === "help") this.output.write(ESCAPE_HELP);
        else {
          // End the guest's last line (its prompt) so the host shell's prompt starts on a line of its own,
          // as QEMU's "QEMU: Terminated" line does; raw mode needs the CR too.
          this.output.write("\r\n");
          this.opts.onQuit?.();
        }
      }
    }
    if (bytes.length === 0) return;
    if (this.handler) this.handler(bytes);
    else if (this.earlyBytes < MAX_EARLY_INPUT) {
      const keep = bytes.subarray(0, MAX_EARLY_INPUT - this.earlyBytes);
      this.early.push(keep);
      this.earlyBytes += keep.length;
      // Stop reading until a receiver takes this; a stream that ignores pause() is cut off above.
      if (this.earlyBytes >= MAX_EARLY_INPUT) {
        this.pausedForEarly = true;
        this.updatePause();
      }
    }
  }
}
