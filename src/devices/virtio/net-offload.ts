/** virtio-net checksum and segmentation offloads: the virtio_net_hdr of each frame (virtio 1.2 §5.1.6). */
/*
 * What the device offers and why (§5.1.3 feature bits, §5.1.3.1 their dependencies):
 *  - VIRTIO_NET_F_CSUM: the guest may send TCP/UDP with only the pseudo-header sum in the checksum
 *    field (VIRTIO_NET_HDR_F_NEEDS_CSUM, §5.1.6.2). No backend of ours takes partial checksums (passt,
 *    sockets, switches, TAP without IFF_VNET_HDR all carry finished frames), so the device completes
 *    the checksum before the frame leaves; a JS loop is far cheaper than the emulated guest's.
 *  - VIRTIO_NET_F_HOST_TSO4/6 (require CSUM): the guest sends TCP super-frames of up to 64 KiB with
 *    gso_type/gso_size, and the device cuts them into MSS-sized frames (net/tcp-segment.ts), so the
 *    guest's stack runs once per 64 KiB instead of once per 1448 bytes.
 *  - VIRTIO_NET_F_GUEST_CSUM: the device may mark received frames VIRTIO_NET_HDR_F_DATA_VALID, and does
 *    so after verifying their TCP/UDP checksum itself (§5.1.6.4.1), sparing the guest that pass.
 * Not offered: GUEST_TSO4/6/UFO (no backend produces super-frames, so the guest would gain nothing),
 * HOST_UFO/USO and HOST_ECN (Linux then segments those itself), GUEST_HDRLEN (hdr_len is ignored anyway).
 * Every header field is guest-controlled: a frame whose fields do not fit it is refused with a reason
 * (the device drops and counts it), never an exception.
 */
import { completePartialChecksum } from "../packet/inet-checksum.js";
import { l4ChecksumValid } from "../packet/l4-checksum.js";
import { segmentTcp } from "../packet/tcp-segment.js";

export const VIRTIO_NET_F_CSUM = 0;
export const VIRTIO_NET_F_GUEST_CSUM = 1;
export const VIRTIO_NET_F_HOST_TSO4 = 11;
export const VIRTIO_NET_F_HOST_TSO6 = 12;

/** §5.1.6 struct virtio_net_hdr flags. */
export const VIRTIO_NET_HDR_F_NEEDS_CSUM = 1;
export const VIRTIO_NET_HDR_F_DATA_VALID = 2;
/** §5.1.6 gso_type values. */
export const VIRTIO_NET_HDR_GSO_NONE = 0;
export const VIRTIO_NET_HDR_GSO_TCPV4 = 1;
export const VIRTIO_NET_HDR_GSO_UDP = 3;
export const VIRTIO_NET_HDR_GSO_TCPV6 = 4;
export const VIRTIO_NET_HDR_GSO_UDP_L4 = 5;
export const VIRTIO_NET_HDR_GSO_ECN = 0x80;

/** The offload features this device offers in feature bank 0. */
export const NET_OFFLOAD_FEATURES =
  (1 << VIRTIO_NET_F_CSUM) |
  (1 << VIRTIO_NET_F_GUEST_CSUM) |
  (1 << VIRTIO_NET_F_HOST_TSO4) |
  (1 << VIRTIO_NET_F_HOST_TSO6);

/** What the driver accepted, as the transmit and receive paths need it. */
export interface NegotiatedOffloads {
  tso4: boolean;
  tso6: boolean;
  guestCsum: boolean;
}

/** What the offloads did, for tests and diagnostics. */
export interface OffloadCounters {
  /** Partial checksums completed (NEEDS_CSUM frames without segmentation). */
  checksumsCompleted: number;
  /** TCP super-frames segmented, and the frames they became. */
  superFrames: number;
  segments: number;
  /** Frames from the guest refused because their virtio_net_hdr does not fit them. */
  malformed: number;
  /** Frames to the guest marked DATA_VALID after the device verified their checksum. */
  rxChecksumsValidated: number;
  /** The last refusal's reason (for a debugger; not part of any contract). */
  lastError: string;
}

export function newOffloadCounters(): OffloadCounters {
  return {
    checksumsCompleted: 0,
    superFrames: 0,
    segments: 0,
    malformed: 0,
    rxChecksumsValidated: 0,
    lastError: "",
  };
}

/**
 * Turn one transmitted frame and its 12-byte virtio_net_hdr into the frames the backend gets
 * (§5.1.6.2): as is; with its checksum completed; or segmented. Null when the header does not fit
 * the frame (counted in `c.malformed`). `frame` is the device's own copy and may be changed in place.
 */
export function framesToSend(
  hdr: Uint8Array,
  frame: Uint8Array,
  neg: NegotiatedOffloads,
  c: OffloadCounters,
): Uint8Array[] | null {
  const flags = hdr[0];
  const gsoType = hdr[1];
  // §5.1.6: flags u8, gso_type u8, hdr_len le16, gso_size le16, csum_start le16, csum_offset le16.
  const gsoSize = hdr[4] | (hdr[5] << 8);
  const csumStart = hdr[6] | (hdr[7] << 8);
  const csumOffset = hdr[8] | (hdr[9] << 8);
  const refuse = (why: string): null => {
    c.malformed++;
    c.lastError = why;
    return null;
  };
  if (gsoType === VIRTIO_NET_HDR_GSO_NONE) {
    // §5.1.6.2.2: without NEEDS_CSUM the device must not use csum_start/csum_offset.
    if ((flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) === 0) return [frame];
    if (!completePartialChecksum(frame, csumStart, csumOffset))
      return refuse(`checksum at ${csumStart}+${csumOffset} outside a ${frame.length}-byte frame`);
    c.checksumsCompleted++;
    return [frame];
  }
  // §5.1.6.2.1: the driver must not use a GSO type it did not negotiate; ECN needs HOST_ECN (not offered).
  let version: 4 | 6;
  if (gsoType === VIRTIO_NET_HDR_GSO_TCPV4 && neg.tso4) version = 4;
  else if (gsoType === VIRTIO_NET_HDR_GSO_TCPV6 && neg.tso6) version = 6;
  else return refuse(`gso_type ${gsoType} not negotiated`);
  // The segments' checksums are computed from scratch, so csum_start/csum_offset and hdr_len are not used.
  const r = segmentTcp(frame, gsoSize, version);
  if ("error" in r) return refuse(r.error);
  c.superFrames++;
  c.segments += r.frames.length;
  return r.frames;
}

/** The flags byte of the header for a frame to the guest: DATA_VALID when allowed and verified (§5.1.6.4.1). */
export function receiveFlags(frame: Uint8Array, neg: NegotiatedOffloads, c: OffloadCounters): number {
  if (!neg.guestCsum || !l4ChecksumValid(frame)) return 0;
  c.rxChecksumsValidated++;
  return VIRTIO_NET_HDR_F_DATA_VALID;
}
