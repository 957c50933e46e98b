/** TCP segmentation offload: cut a TCP super-frame into MSS-sized frames (RFC 9293, as Linux's tcp_gso_segment). */
/*
 * A guest that negotiated VIRTIO_NET_F_HOST_TSO4/6 (virtio 1.2 §5.1.6.2) hands the device one frame of
 * up to 64 KiB: Ethernet, IP and TCP headers once, then the payload. Every backend of ours carries plain
 * Ethernet frames, so the device cuts it here: each segment gets a copy of the headers with
 *  - IPv4: total length, identification (the first one's + i, as Linux increments it) and header checksum;
 *  - IPv6: payload length;
 *  - TCP: sequence number (first + i × MSS), FIN and PSH only on the last segment, CWR only on the first
 *    (RFC 3168 §6.1.2: CWR is set on one segment), and a full checksum over the pseudo header.
 * The guest's header fields (hdr_len, csum_start) are not trusted (§5.1.6.2.2: the device must not rely
 * on hdr_len): the headers are parsed from the frame, and anything that is not plain TCP over the IP
 * version asked for is refused with a reason, never an exception.
 */
import { checksumOf, onesSum, pseudoHeaderSum, setIpv4HeaderChecksum } from "./inet-checksum.js";
import { IPPROTO_TCP, type IpPacket, parseIpFrame } from "./ip-frame.js";

const TCP_MIN_HEADER = 20;
const TCP_FIN = 0x01;
const TCP_PSH = 0x08;
const TCP_CWR = 0x80;

/** Segments, or why the super-frame cannot be segmented. */
export type SegmentResult = { frames: Uint8Array[] } | { error: string };

/** Headers of a TCP frame: the IP packet and where TCP's header and payload are. */
export interface TcpFrame {
  ip: IpPacket;
  /** End of the TCP header (data offset × 4 past the IP header): where the payload starts. */
  payload: number;
}

/** Parse a frame as TCP over IPv`version` (no IPv4 fragment); a reason string when it is not. */
export function parseTcpFrame(
  frame: Uint8Array,
  version: 4 | 6,
  lengthFromFrame: boolean,
): TcpFrame | string {
  const ip = parseIpFrame(frame, lengthFromFrame);
  if (ip === null) return "not an IPv4/IPv6 frame, or truncated headers";
  if (ip.version !== version) return `IPv${ip.version} frame where IPv${version} was declared`;
  if (ip.protocol !== IPPROTO_TCP) return `protocol ${ip.protocol} is not TCP`;
  if (ip.fragment) return "an IPv4 fragment";
  if (ip.l4 + TCP_MIN_HEADER > ip.end) return "truncated TCP header";
  const dataOffset = (frame[ip.l4 + 12] >> 4) * 4;
  if (dataOffset < TCP_MIN_HEADER || ip.l4 + dataOffset > ip.end) return `bad TCP data offset ${dataOffset}`;
  return { ip, payload: ip.l4 + dataOffset };
}

/** Set the TCP checksum of the segment in `f` (header at l4, segment to `end`) from scratch. */
export function setTcpChecksum(f: Uint8Array, ip: IpPacket, end: number): void {
  f[ip.l4 + 16] = 0;
  f[ip.l4 + 17] = 0;
  const len = end - ip.l4;
  const c = checksumOf(onesSum(f, ip.l4, end, pseudoHeaderSum(f, ip, IPPROTO_TCP, len)));
  f[ip.l4 + 16] = c >> 8;
  f[ip.l4 + 17] = c & 0xff;
}

/**
 * Cut `frame` (TCP over IPv`version`, the packet ending with the frame) into segments carrying at most
 * `mss` payload bytes each. `mss` comes from the guest: 0 is refused; anything larger than the payload
 * gives one segment. The number of segments is at most the payload length (< 64 KiB), so the work is
 * bounded by the frame's size.
 */
export function segmentTcp(frame: Uint8Array, mss: number, version: 4 | 6): SegmentResult {
  if (!Number.isInteger(mss) || mss < 1) return { error: `segment size ${mss}` };
  const tcp = parseTcpFrame(frame, version, true);
  if (typeof tcp === "string") return { error: tcp };
  const { ip, payload } = tcp;
  const payloadLength = frame.length - payload;
  const count = Math.max(1, Math.ceil(payloadLength / mss));
  // The largest segment must still fit IP's 16-bit length field (RFC 791 total length, RFC 8200 payload length).
  const largest = payload + Math.min(mss, payloadLength) - (version === 4 ? ip.l3 : ip.l4);
  if (largest > 0xffff) return { error: `a ${largest}-byte segment exceeds IP's length field` };
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const seq0 = view.getUint32(ip.l4 + 4);
  const id0 = version === 4 ? view.getUint16(ip.l3 + 4) : 0;
  const flags0 = frame[ip.l4 + 13];
  const frames: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const from = payload + i * mss;
    const n = Math.min(mss, frame.length - from);
    const f = new Uint8Array(payload + Math.max(n, 0));
    f.set(frame.subarray(0, payload), 0);
    if (n > 0) f.set(frame.subarray(from, from + n), payload);
    const v = new DataView(f.buffer);
    if (version === 4) {
      v.setUint16(ip.l3 + 2, f.length - ip.l3);
      v.setUint16(ip.l3 + 4, (id0 + i) & 0xffff);
      setIpv4HeaderChecksum(f, ip.l3, ip.l3Length);
    } else {
      v.setUint16(ip.l3 + 4, f.length - ip.l4);
    }
    v.setUint32(ip.l4 + 4, (seq0 + i * mss) >>> 0);
    let flags = flags0;
    if (i < count - 1) flags &= ~(TCP_FIN | TCP_PSH);
    if (i > 0) flags &= ~TCP_CWR;
    f[ip.l4 + 13] = flags;
    setTcpChecksum(f, ip, f.length);
    frames.push(f);
  }
  return { frames };
}
