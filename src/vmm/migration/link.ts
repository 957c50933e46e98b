/** What a migration needs of its connection to the other side (a WebSocket in daemon/, memory in tests). */
import type { Reply } from "./protocol.js";

/** The source's end: messages out, replies in. */
export interface MigrationLink {
  /**
   * Hand one message to the link. Resolves when the link can take more (flow control: it waits while too
   * much is queued, which is when the guest gets the CPU). Rejects once the link has failed or closed.
   */
  send(msg: Uint8Array): Promise<void>;
  /** The next reply from the destination; rejects when the link fails or closes first. */
  reply(): Promise<Reply>;
  /** Bytes handed to send() so far. */
  readonly bytesSent: number;
  close(): void;
}

/** The destination's end: messages in (rejects when the link closes), replies out. */
export interface MigrationInbox {
  next(): Promise<Uint8Array>;
  reply(r: Reply): void;
}
