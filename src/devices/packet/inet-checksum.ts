/** The Internet checksum (RFC 1071) and the TCP/UDP pseudo-header sums (RFC 9293 §3.1, RFC 768, RFC 8200 §8.1). */
/*
 * Sums are kept unfolded in a JS number while adding (a frame is at most 64 KiB, so 16-bit words add
 * up to well under 2^53) and folded once at the end. Big-endian 16-bit words, as on the wire; an odd
 * trailing byte is padded with a zero byte (RFC 1071 §4.1).
 */

/** Ones' complement sum of bytes [start, end) of `b`, added to `initial`; not folded. */
export function onesSum(b: Uint8Array, start: number, end: number, initial = 0): number {
  let sum = initial;
  let i = start;
  for (; i + 1 < end; i += 2) sum += (b[i] << 8) | b[i + 1];
  if (i < end) sum += b[i] << 8;
  return sum;
}

/** Fold an unfolded sum to 16 bits (end-around carry). */
export function foldSum(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return sum;
}

/** The checksum field value for an unfolded sum: the ones' complement of the folded sum. */
export function checksumOf(sum: number): number {
  return ~foldSum(sum) & 0xffff;
}

/** Where the IP header starts and which version it is, as the pseudo header needs. */
export interface IpAddresses {
  version: 4 | 6;
  /** Offset of the IP header in the frame. */
  l3: number;
}

/**
 * Unfolded sum of the pseudo header for a transport segment of `l4Length` bytes with protocol `proto`:
 * IPv4 source, destination, zero, protocol, TCP/UDP length (RFC 9293 §3.1, RFC 768); IPv6 source,
 * destination, upper-layer length, next header (RFC 8200 §8.1). The addresses are read from `frame`.
 */
export function pseudoHeaderSum(frame: Uint8Array, ip: IpAddresses, proto: number, l4Length: number): number {
  const sum =
    ip.version === 4 ? onesSum(frame, ip.l3 + 12, ip.l3 + 20) : onesSum(frame, ip.l3 + 8, ip.l3 + 40);
  return sum + proto + (l4Length & 0xffff) + Math.floor(l4Length / 0x10000);
}

/** Compute and store the IPv4 header checksum of the `headerLength`-byte header at `l3` (RFC 791 §3.1). */
export function setIpv4HeaderChecksum(frame: Uint8Array, l3: number, headerLength: number): void {
  frame[l3 + 10] = 0;
  frame[l3 + 11] = 0;
  const c = checksumOf(onesSum(frame, l3, l3 + headerLength));
  frame[l3 + 10] = c >> 8;
  frame[l3 + 11] = c & 0xff;
}

/**
 * Finish a partially checksummed frame (virtio 1.2 §5.1.6.2, VIRTIO_NET_HDR_F_NEEDS_CSUM; Linux's
 * CHECKSUM_PARTIAL): the 16-bit field at csumStart + csumOffset holds the pseudo-header sum, so the
 * ones' complement of the sum from csumStart to the end of the frame is the checksum. A result of 0
 * is stored as 0xffff (the same value in ones' complement; for UDP, 0 would mean "no checksum",
 * RFC 768). Returns false, leaving the frame alone, when the offsets (guest-controlled) do not lie
 * inside the frame.
 */
export function completePartialChecksum(frame: Uint8Array, csumStart: number, csumOffset: number): boolean {
  const field = csumStart + csumOffset;
  if (csumStart >= frame.length || field + 2 > frame.length) return false;
  const c = checksumOf(onesSum(frame, csumStart, frame.length)) || 0xffff;
  frame[field] = c >> 8;
  frame[field + 1] = c & 0xff;
  return true;
}
