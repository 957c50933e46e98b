/** QEMU-style console escapes: Ctrl-A X quits, Ctrl-A Ctrl-A sends a literal Ctrl-A, Ctrl-A H prints help. */

const CTRL_A = 0x01;

export type EscapeAction = "quit" | "help";

/**
 * A byte-stream filter. Bytes pass through unchanged except Ctrl-A and the byte after it, which
 * form a command (QEMU docs, "Keys in the character backend multiplexer").
 */
export class ConsoleEscape {
  private pending = false;

  /** Split input into guest bytes and at most one action per command; actions come back in order. */
  feed(data: Uint8Array): { data: Uint8Array; actions: EscapeAction[] } {
    const out: number[] = [];
    const actions: EscapeAction[] = [];
    for (const b of data) {
      if (this.pending) {
        this.pending = false;
        if (b === CTRL_A) out.push(CTRL_A);
        else if (b === 0x78 || b === 0x58)
          actions.push("quit"); // x / X
        else if (b === 0x68 || b === 0x48) actions.push("help"); // h / H
        // Anything else is an unknown command and is dropped, as in QEMU.
      } else if (b === CTRL_A) {
        this.pending = true;
      } else {
        out.push(b);
      }
    }
    return { data: Uint8Array.from(out), actions };
  }
}

export const ESCAPE_HELP = "\r\nC-a h    print this help\r\nC-a x    exit emulator\r\nC-a C-a  send C-a\r\n";
