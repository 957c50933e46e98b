/** Reads a libpcap capture file (pcap-savefile(5)) back into frames: for tests and `tvisor` tools. */
import { UserError } from "../../base/errors.js";

export interface PcapRecord {
  /** Milliseconds since the epoch. */
  timeMs: number;
  /** The captured bytes (at most the snap length). */
  data: Uint8Array;
  /** The frame's length on the wire. */
  origLen: number;
}

export interface Pcap {
  linkType: number;
  snapLen: number;
  records: PcapRecord[];
}

/** Parses a little- or big-endian microsecond pcap; a truncated last record is an error. */
export function parsePcap(bytes: Uint8Array): Pcap {
  if (bytes.length < 24) throw new UserError(`pcap: ${bytes.length} bytes is too short for a header`);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = v.getUint32(0, true);
  let le: boolean;
  if (magic === 0xa1b2c3d4) le = true;
  else if (magic === 0xd4c3b2a1) le = false;
  else throw new UserError(`pcap: bad magic 0x${magic.toString(16)}`);
  const snapLen = v.getUint32(16, le);
  const linkType = v.getUint32(20, le);
  const records: PcapRecord[] = [];
  let off = 24;
  while (off < bytes.length) {
    if (off + 16 > bytes.length) throw new UserError(`pcap: truncated record header at ${off}`);
    const sec = v.getUint32(off, le);
    const usec = v.getUint32(off + 4, le);
    const incl = v.getUint32(off + 8, le);
    const origLen = v.getUint32(off + 12, le);
    if (incl > snapLen || off + 16 + incl > bytes.length)
      throw new UserError(`pcap: record at ${off} claims ${incl} bytes`);
    const data = new Uint8Array(bytes.subarray(off + 16, off + 16 + incl));
    records.push({ timeMs: sec * 1000 + usec / 1000, data, origLen });
    off += 16 + incl;
  }
  return { linkType, snapLen, records };
}
