/** The stdio CharBackend: the guest console on the terminal (raw mode, Ctrl-A X) or on plain pipes. */
import type { CharBackend } from "../char-backend.js";
import { ConsoleEscape, ESCAPE_HELP } from "./console-escape.js";

/** The subset of process.stdin we use, so tests can pass a stream of their own. */
export interface ConsoleInput {
  isTTY?: boolean;
  setRawMode?(mode: boolean): unknown;
  on(event: "data", fn: (chunk: Buffer | string) => void): unknown;
  off(event: "data", fn: (chunk: Buffer | string) => void): unknown;
  resume(): unknown;
  pause(): unknown;
}

export interface ConsoleOutput {
  write(data: Uint8Array | string): unknown;
}

export interface StdioConsoleOptions {
  input?: ConsoleInput;
  output?: ConsoleOutput;
  /** Called when the user types Ctrl-A X on a terminal. */
  onQuit?: () => void;
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
  /** Input read before a receiver was registered. */
  private readonly early: Uint8Array[] = [];
  private readonly listener = (chunk: Buffer | string) => this.receive(chunk);

  constructor(private readonly opts: StdioConsoleOptions = {}) {
    this.input = opts.input ?? process.stdin;
    this.output = opts.output ?? process.stdout;
    this.raw = this.input.isTTY === true && typeof this.input.setRawMode === "function";
    if (this.raw) this.input.setRawMode?.(true);
    this.input.on("data", this.listener);
    this.input.resume();
  }

  write(data: Uint8Array): void {
    if (!this.closed) this.output.write(data);
  }

  /** One receiver at a time: a rebooted machine's console device (UART or virtio console) replaces the previous one. */
  onInput(handler: (data: Uint8Array) => void): void {
    this.handler = handler;
    // Input that came before any machine was listening (a script piped in at start-up) is not lost.
    const early = this.early.splice(0);
    for (const b of early) handler(b);
  }

  /** Restore the terminal and stop reading stdin, so the process can exit. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
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
    else this.early.push(bytes);
  }
}
