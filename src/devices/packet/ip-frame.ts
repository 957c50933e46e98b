/** Where the IP and transport headers of an Ethernet frame are (IEEE 802.3, 802.1Q, RFC 791, RFC 8200). */
/*
 * Everything here reads bytes a guest or a remote host wrote, so each offset is checked against the
 * frame before it is used and anything unexpected yields null rather than an exception.
 */

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_IPV6 = 0x86dd;
/** IEEE 802.1Q customer VLAN tag: 4 bytes between the source MAC and the EtherType. */
export const ETHERTYPE_VLAN = 0x8100;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
const ETH_HEADER = 14;
const IPV4_MIN_HEADER = 20;
const IPV6_HEADER = 40;

/** An IP packet inside a frame. */
export interface IpPacket {
  version: 4 | 6;
  /** Offset of the IP header. */
  l3: number;
  /** IPv4: IHL × 4 (options included); IPv6: 40 (extension headers are not followed). */
  l3Length: number;
  /** IPv4 protocol or IPv6 next header. */
  protocol: number;
  /** Offset of the transport header (l3 + l3Length). */
  l4: number;
  /** End of the IP packet: from its length field, or the frame's end when `lengthFromFrame`. */
  end: number;
  /** IPv4 fragment (MF set or a fragment offset): the transport header is not (all) here. */
  fragment: boolean;
}

function u16(b: Uint8Array, o: number): number {
  return (b[o] << 8) | b[o + 1];
}

/**
 * Parse the Ethernet (optionally one 802.1Q tag) and IP headers of `frame`; null when it is not IPv4 or
 * IPv6 or a header does not fit. The packet ends where its length field says (Ethernet pads short
 * frames), which must lie within the frame; with `lengthFromFrame` (a super-frame from the guest, whose
 * IPv4 total length Linux may leave at 0 beyond 64 KiB) it ends with the frame.
 */
export function parseIpFrame(frame: Uint8Array, lengthFromFrame = false): IpPacket | null {
  if (frame.length < ETH_HEADER) return null;
  let l3 = ETH_HEADER;
  let type = u16(frame, 12);
  if (type === ETHERTYPE_VLAN) {
    if (frame.length < ETH_HEADER + 4) return null;
    type = u16(frame, 16);
    l3 += 4;
  }
  if (type === ETHERTYPE_IPV4) {
    if (frame.length < l3 + IPV4_MIN_HEADER || frame[l3] >> 4 !== 4) return null;
    const l3Length = (frame[l3] & 0x0f) * 4;
    if (l3Length < IPV4_MIN_HEADER || frame.length < l3 + l3Length) return null;
    const end = lengthFromFrame ? frame.length : l3 + u16(frame, l3 + 2);
    if (end < l3 + l3Length || end > frame.length) return null;
    const frag = u16(frame, l3 + 6);
    return {
      version: 4,
      l3,
      l3Length,
      protocol: frame[l3 + 9],
      l4: l3 + l3Length,
      end,
      // RFC 791 §3.1: flags bit 2 is MF, the low 13 bits are the fragment offset.
      fragment: (frag & 0x3fff) !== 0,
    };
  }
  if (type === ETHERTYPE_IPV6) {
    if (frame.length < l3 + IPV6_HEADER || frame[l3] >> 4 !== 6) return null;
    const end = lengthFromFrame ? frame.length : l3 + IPV6_HEADER + u16(frame, l3 + 4);
    if (end > frame.length) return null;
    return {
      version: 6,
      l3,
      l3Length: IPV6_HEADER,
      protocol: frame[l3 + 6],
      l4: l3 + IPV6_HEADER,
      end,
      fragment: false,
    };
  }
  return null;
}
