/**
 * A capture file in the classic libpcap format (what tcpdump -w writes and -r reads; the format is
 * described in the pcap-savefile(5) man page and draft-ietf-opsawg-pcap): a 24-byte global header, then
 * per frame a 16-byte record header (seconds, microseconds, captured and original length) and the bytes.
 * Written in host byte order with the 0xa1b2c3d4 magic, so readers detect the order; link type 1 is
 * Ethernet. Each frame is one synchronous write, so a killed VM leaves every recorded frame complete.
 */
import { closeSync, constants, fstatSync, openSync, writeSync } from "node:fs";
import { UserError } from "../../base/errors.js";
import type { FrameCapture } from "../frame-capture.js";

const PCAP_MAGIC = 0xa1b2c3d4;
const LINKTYPE_ETHERNET = 1;
/** The largest frame virtio-net passes (64 KiB of data plus the Ethernet header), all of it kept. */
export const PCAP_SNAPLEN = 65535 + 18;

export class PcapFile implements FrameCapture {
  private fd: number | null;
  /** Frames that could not be written (disk full): counted, never fatal to the VM. */
  failed = 0;

  /** Creates or truncates `path`; refuses anything but a regular file (a FIFO would block the VM). */
  constructor(
    readonly path: string,
    private readonly now: () => number = Date.now,
  ) {
    let fd: number;
    try {
      // O_NONBLOCK: opening a FIFO nobody reads fails at once (ENXIO) instead of hanging the VM.
      fd = openSync(
        path,
        constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NONBLOCK,
        0o644,
      );
    } catch (e) {
      throw new UserError(`pcap: cannot create ${path}: ${(e as Error).message}`);
    }
    if (!fstatSync(fd).isFile()) {
      closeSync(fd);
      throw new UserError(`pcap: ${path} is not a regular file`);
    }
    this.fd = fd;
    const h = Buffer.alloc(24);
    h.writeUInt32LE(PCAP_MAGIC, 0);
    h.writeUInt16LE(2, 4); // version 2.4
    h.writeUInt16LE(4, 6);
    // thiszone and sigfigs stay 0 (timestamps are UTC)
    h.writeUInt32LE(PCAP_SNAPLEN, 16);
    h.writeUInt32LE(LINKTYPE_ETHERNET, 20);
    this.write(h);
  }

  record(frame: Uint8Array): void {
    if (this.fd === null) return;
    const len = Math.min(frame.length, PCAP_SNAPLEN);
    const rec = Buffer.alloc(16 + len);
    const ms = this.now();
    rec.writeUInt32LE(Math.floor(ms / 1000) >>> 0, 0);
    rec.writeUInt32LE(Math.floor((ms % 1000) * 1000), 4);
    rec.writeUInt32LE(len, 8);
    rec.writeUInt32LE(frame.length, 12);
    rec.set(frame.subarray(0, len), 16);
    this.write(rec);
  }

  close(): void {
    if (this.fd === null) return;
    closeSync(this.fd);
    this.fd = null;
  }

  private write(b: Buffer): void {
    if (this.fd === null) return;
    try {
      let off = 0;
      while (off < b.length) off += writeSync(this.fd, b, off);
    } catch {
      this.failed++;
    }
  }
}
