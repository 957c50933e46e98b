/** Receive-side checksum verification (the basis of VIRTIO_NET_HDR_F_DATA_VALID). */
import assert from "node:assert/strict";
import { test } from "node:test";
import { l4ChecksumValid } from "./l4-checksum.js";
import { payloadOf, tcpFrame, udp4Frame } from "./testing.js";

test("right TCP (IPv4, IPv6, VLAN) and UDP checksums verify; any flipped bit does not", () => {
  const frames = [
    tcpFrame({ version: 4, payload: payloadOf(1448) }),
    tcpFrame({ version: 4, payload: payloadOf(1), ipOptions: Uint8Array.of(1, 1, 1, 0) }),
    tcpFrame({ version: 6, payload: payloadOf(1000) }),
    tcpFrame({ version: 4, payload: payloadOf(77), vlan: 5 }),
    udp4Frame(payloadOf(33)),
  ];
  for (const f of frames) {
    assert.equal(l4ChecksumValid(f), true);
    const l4 = f.length - 1;
    const bad = f.slice();
    bad[l4] ^= 0x10;
    assert.equal(l4ChecksumValid(bad), false);
  }
});

test("not validated: partial checksums, UDP without a checksum, fragments, padding counted as data, truncation, ARP", () => {
  assert.equal(l4ChecksumValid(tcpFrame({ version: 4, payload: payloadOf(100), partial: true })), false);
  assert.equal(l4ChecksumValid(udp4Frame(payloadOf(10), true)), false);
  const frag = tcpFrame({ version: 4, payload: payloadOf(100) });
  frag[14 + 6] |= 0x20;
  assert.equal(l4ChecksumValid(frag), false);
  // Ethernet padding after the IP packet is ignored (the IP length says where it ends).
  const short = tcpFrame({ version: 4, payload: payloadOf(2) });
  const padded = new Uint8Array(60);
  padded.set(short);
  padded.fill(0xee, short.length);
  assert.equal(l4ChecksumValid(padded), true);
  assert.equal(l4ChecksumValid(short.slice(0, short.length - 1)), false, "IP length beyond the frame");
  assert.equal(l4ChecksumValid(new Uint8Array(0)), false);
  const arp = new Uint8Array(42);
  arp[12] = 0x08;
  arp[13] = 0x06;
  assert.equal(l4ChecksumValid(arp), false);
  const udpLen = udp4Frame(payloadOf(10));
  udpLen[38 + 1] -= 1; // UDP length one short of the IP payload
  assert.equal(l4ChecksumValid(udpLen), false);
});
