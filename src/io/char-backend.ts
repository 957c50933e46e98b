/** The host-side character device contract: consoles and serial ports write to and read from one of these. */

export interface CharBackend {
  /** Send guest output to the host. */
  write(data: Uint8Array): void;
  /** Register the receiver of host input; the backend calls it with each chunk typed or piped in. */
  onInput(handler: (data: Uint8Array) => void): void;
}
