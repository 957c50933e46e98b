/** The host-side character device contract: consoles and serial ports write to and read from one of these. */

export interface CharBackend {
  /**
   * Send guest output to the host. `data` is valid only during the call: devices reuse their buffers,
   * so a backend that keeps the bytes (queues them, sends them later) must copy them.
   */
  write(data: Uint8Array): void;
  /** Register the receiver of host input; the backend calls it with each chunk typed or piped in. */
  onInput(handler: (data: Uint8Array) => void): void;
  /**
   * Flow control, optional: the receiver asks the backend to stop (true) or resume (false) delivering
   * input while its queue is full, as a UART deasserts RTS. A backend that cannot pause ignores it, so
   * every receiver still bounds its queue and drops what does not fit.
   */
  setInputPaused?(paused: boolean): void;
}
