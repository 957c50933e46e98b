/**
 * An xterm.js terminal bound to a byte stream (the daemon's console WebSocket, or the in-tab VM's worker).
 * Copy: select, then Ctrl+Shift+C (Ctrl+C goes to the guest as ^C). Paste: Ctrl+Shift+V or the browser's
 * paste. The terminal follows its box's size (fit addon); the guest's serial console has no window-size
 * channel, so `stty rows/cols` in the guest is the way to tell it.
 */
import { FitAddon } from "@xterm/addon-fit";
import { Terminal } from "@xterm/xterm";

export interface ByteTerminal {
  term: Terminal;
  write(data: Uint8Array | string): void;
  dispose(): void;
}

export function openTerminal(parent: HTMLElement, send: (bytes: Uint8Array) => void): ByteTerminal {
  const term = new Terminal({
    convertEol: false,
    cursorBlink: true,
    fontFamily: "ui-monospace, Menlo, Consolas, monospace",
    fontSize: 14,
    scrollback: 5000,
    screenReaderMode: false,
  });
  const fit = new FitAddon();
  term.loadAddon(fit);
  term.open(parent);
  const enc = new TextEncoder();
  const paste = (text: string) => send(enc.encode(text.replace(/\r?\n/g, "\r")));
  term.attachCustomKeyEventHandler((e) => {
    if (e.type !== "keydown" || !e.ctrlKey || !e.shiftKey) return true;
    if (e.code === "KeyC") {
      const sel = term.getSelection();
      if (sel) void navigator.clipboard?.writeText(sel).catch(() => {});
      return false;
    }
    if (e.code === "KeyV") {
      void navigator.clipboard
        ?.readText()
        .then(paste)
        .catch(() => {});
      return false;
    }
    return true;
  });
  const onData = term.onData((d) => send(enc.encode(d)));
  const resize = new ResizeObserver(() => {
    try {
      fit.fit();
    } catch {
      // Not laid out (hidden): nothing to fit.
    }
  });
  resize.observe(parent);
  return {
    term,
    write: (data) => term.write(data),
    dispose: () => {
      resize.disconnect();
      onData.dispose();
      term.dispose();
    },
  };
}
