/** Test-only: hand-built Ethernet/IP/TCP/UDP frames and a checksum computed independently of inet-checksum.ts. */

/**
 * RFC 1071 checksum written differently from the code under test: 16-bit words read with a DataView,
 * summed modulo 65535 (the ones' complement sum is the sum mod 2^16 − 1, with 0 shown as 0xffff).
 */
export function referenceChecksum(...parts: Uint8Array[]): number {
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length + (p.length & 1), 0));
  let o = 0;
  for (const p of parts) {
    all.set(p, o);
    o += p.length + (p.length & 1); // each part is padded to whole words, as pseudo headers are
  }
  const v = new DataView(all.buffer);
  let sum = 0;
  for (let i = 0; i < all.length; i += 2) sum = (sum + v.getUint16(i)) % 0xffff;
  const ones = sum === 0 && all.some((b) => b !== 0) ? 0xffff : sum;
  return 0xffff - ones;
}

export const MAC_DST = Uint8Array.of(0x52, 0x54, 0, 0, 0, 2);
export const MAC_SRC = Uint8Array.of(0x52, 0x54, 0, 0, 0, 1);
export const IP4_SRC = Uint8Array.of(10, 0, 2, 15);
export const IP4_DST = Uint8Array.of(10, 0, 2, 2);
export const IP6_SRC = Uint8Array.from([0xfd, 0, ...new Array(13).fill(0), 1]);
export const IP6_DST = Uint8Array.from([0xfd, 0, ...new Array(13).fill(0), 2]);

export interface TcpSpec {
  version: 4 | 6;
  payload: Uint8Array;
  seq?: number;
  flags?: number;
  /** IPv4 options (a multiple of 4 bytes). */
  ipOptions?: Uint8Array;
  /** TCP options (a multiple of 4 bytes). */
  tcpOptions?: Uint8Array;
  ipId?: number;
  vlan?: number;
  /** Leave the TCP checksum field holding only the pseudo-header sum, as a NEEDS_CSUM driver does. */
  partial?: boolean;
}

/** Pseudo header bytes (RFC 9293 §3.1 / RFC 8200 §8.1) for the reference checksum. */
export function pseudoHeader(version: 4 | 6, proto: number, len: number): Uint8Array {
  if (version === 4) {
    const p = new Uint8Array(12);
    p.set(IP4_SRC, 0);
    p.set(IP4_DST, 4);
    p[9] = proto;
    p[10] = len >> 8;
    p[11] = len & 0xff;
    return p;
  }
  const p = new Uint8Array(40);
  p.set(IP6_SRC, 0);
  p.set(IP6_DST, 16);
  new DataView(p.buffer).setUint32(32, len);
  p[39] = proto;
  return p;
}

/** An Ethernet frame carrying one TCP segment (checksums right, or partial with `partial`). */
export function tcpFrame(s: TcpSpec): Uint8Array {
  const ipOpt = s.ipOptions ?? new Uint8Array(0);
  const tcpOpt = s.tcpOptions ?? new Uint8Array(0);
  const l2 = s.vlan === undefined ? 14 : 18;
  const l3Len = s.version === 4 ? 20 + ipOpt.length : 40;
  const tcpLen = 20 + tcpOpt.length + s.payload.length;
  const f = new Uint8Array(l2 + l3Len + tcpLen);
  const v = new DataView(f.buffer);
  f.set(MAC_DST, 0);
  f.set(MAC_SRC, 6);
  let o = 12;
  if (s.vlan !== undefined) {
    v.setUint16(12, 0x8100);
    v.setUint16(14, s.vlan);
    o = 16;
  }
  v.setUint16(o, s.version === 4 ? 0x0800 : 0x86dd);
  const l3 = l2;
  if (s.version === 4) {
    f[l3] = 0x40 | (l3Len / 4);
    v.setUint16(l3 + 2, l3Len + tcpLen);
    v.setUint16(l3 + 4, s.ipId ?? 0x1234);
    v.setUint16(l3 + 6, 0x4000); // DF
    f[l3 + 8] = 64;
    f[l3 + 9] = 6;
    f.set(IP4_SRC, l3 + 12);
    f.set(IP4_DST, l3 + 16);
    f.set(ipOpt, l3 + 20);
    const c = referenceChecksum(f.subarray(l3, l3 + l3Len));
    v.setUint16(l3 + 10, c);
  } else {
    v.setUint32(l3, 0x60000000);
    v.setUint16(l3 + 4, tcpLen);
    f[l3 + 6] = 6;
    f[l3 + 7] = 64;
    f.set(IP6_SRC, l3 + 8);
    f.set(IP6_DST, l3 + 24);
  }
  const l4 = l3 + l3Len;
  v.setUint16(l4, 40000);
  v.setUint16(l4 + 2, 80);
  v.setUint32(l4 + 4, s.seq ?? 1000);
  v.setUint32(l4 + 8, 777);
  f[l4 + 12] = ((20 + tcpOpt.length) / 4) << 4;
  f[l4 + 13] = s.flags ?? 0x18; // PSH|ACK
  v.setUint16(l4 + 14, 65535);
  f.set(tcpOpt, l4 + 20);
  f.set(s.payload, l4 + 20 + tcpOpt.length);
  const pseudo = pseudoHeader(s.version, 6, tcpLen);
  if (s.partial) {
    // The folded pseudo-header sum, not complemented: what Linux puts there for CHECKSUM_PARTIAL.
    v.setUint16(l4 + 16, 0xffff - referenceChecksum(pseudo));
  } else v.setUint16(l4 + 16, referenceChecksum(pseudo, f.subarray(l4)));
  return f;
}

/** An Ethernet frame carrying one UDP datagram over IPv4 with a right checksum (or none with `noChecksum`). */
export function udp4Frame(payload: Uint8Array, noChecksum = false): Uint8Array {
  const udpLen = 8 + payload.length;
  const f = new Uint8Array(14 + 20 + udpLen);
  const v = new DataView(f.buffer);
  f.set(MAC_DST, 0);
  f.set(MAC_SRC, 6);
  v.setUint16(12, 0x0800);
  f[14] = 0x45;
  v.setUint16(16, 20 + udpLen);
  f[22] = 64;
  f[23] = 17;
  f.set(IP4_SRC, 26);
  f.set(IP4_DST, 30);
  v.setUint16(24, referenceChecksum(f.subarray(14, 34)));
  v.setUint16(34, 53);
  v.setUint16(36, 5353);
  v.setUint16(38, udpLen);
  f.set(payload, 42);
  if (!noChecksum) v.setUint16(40, referenceChecksum(pseudoHeader(4, 17, udpLen), f.subarray(34)) || 0xffff);
  return f;
}

/** Deterministic payload bytes. */
export function payloadOf(n: number, seed = 7): Uint8Array {
  const p = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    p[i] = x >>> 24;
  }
  return p;
}
