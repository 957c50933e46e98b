/** Verify the TCP or UDP checksum of a received frame (RFC 9293 §3.1, RFC 768, RFC 8200 §8.1). */
/*
 * Used for virtio-net's VIRTIO_NET_HDR_F_DATA_VALID (virtio 1.2 §5.1.6.4): a frame the device has
 * checked need not be checked again by the guest, which costs far more in emulated instructions than
 * this loop costs the host.
 */
import { foldSum, onesSum, pseudoHeaderSum } from "./inet-checksum.js";
import { IPPROTO_TCP, IPPROTO_UDP, parseIpFrame } from "./ip-frame.js";

/**
 * True when `frame` is an unfragmented TCP or UDP packet over IPv4 or IPv6 whose transport checksum is
 * present and correct. False for everything else (other protocols, fragments, truncated headers, an
 * IPv4 UDP datagram sent without a checksum, a wrong checksum): the guest then checks for itself.
 */
export function l4ChecksumValid(frame: Uint8Array): boolean {
  const ip = parseIpFrame(frame);
  if (ip === null || ip.fragment) return false;
  const len = ip.end - ip.l4;
  if (ip.protocol === IPPROTO_TCP) {
    if (len < 20) return false;
  } else if (ip.protocol === IPPROTO_UDP) {
    // The UDP length must be the IP payload's: a receiver trims to it and would sum fewer bytes.
    if (len < 8 || ((frame[ip.l4 + 4] << 8) | frame[ip.l4 + 5]) !== len) return false;
    // RFC 768: zero means the sender computed none (IPv4 only; RFC 8200 §8.1 makes it mandatory for IPv6).
    if (frame[ip.l4 + 6] === 0 && frame[ip.l4 + 7] === 0) return false;
  } else return false;
  // The sum over pseudo header and segment, checksum field included, is all ones when it is right.
  return foldSum(onesSum(frame, ip.l4, ip.end, pseudoHeaderSum(frame, ip, ip.protocol, len))) === 0xffff;
}
