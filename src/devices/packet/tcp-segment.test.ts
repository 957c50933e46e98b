/** TCP segmentation offload against hand-built super-frames, every checksum re-verified independently. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseIpFrame } from "./ip-frame.js";
import { segmentTcp } from "./tcp-segment.js";
import { payloadOf, pseudoHeader, referenceChecksum, tcpFrame } from "./testing.js";

const FIN = 0x01;
const PSH = 0x08;
const ACK = 0x10;
const CWR = 0x80;

/** Check one segment's IP and TCP checksums with the reference implementation. */
function checkSums(f: Uint8Array, version: 4 | 6): void {
  const ip = parseIpFrame(f);
  assert.ok(ip, "the segment parses, its length field matching the frame");
  assert.equal(ip.end, f.length);
  if (version === 4) assert.equal(referenceChecksum(f.subarray(ip.l3, ip.l4)), 0, "IPv4 header checksum");
  const tcp = f.subarray(ip.l4);
  assert.equal(referenceChecksum(pseudoHeader(version, 6, tcp.length), tcp), 0, "TCP checksum");
}

for (const version of [4, 6] as const) {
  test(`IPv${version}: a 64 KiB super-frame becomes MSS segments with right lengths, sequence numbers, ids, flags and checksums`, () => {
    const payload = payloadOf(65000 - 100);
    const mss = 1448;
    const seq = 0xffffff00; // wraps past 2^32 in the second segment
    const tcpOptions = Uint8Array.of(1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2); // NOP NOP timestamps
    const sup = tcpFrame({ version, payload, seq, flags: FIN | PSH | ACK | CWR, tcpOptions, ipId: 0xfffe });
    const r = segmentTcp(sup, mss, version);
    assert.ok("frames" in r, JSON.stringify(r));
    const n = Math.ceil(payload.length / mss);
    assert.equal(r.frames.length, n);
    const hdr = (version === 4 ? 34 : 54) + 32;
    const got: number[] = [];
    r.frames.forEach((f, i) => {
      const v = new DataView(f.buffer);
      const l3 = 14;
      const l4 = version === 4 ? 34 : 54;
      const len = Math.min(mss, payload.length - i * mss);
      assert.equal(f.length, hdr + len);
      assert.deepEqual(f.subarray(0, 14), sup.subarray(0, 14), "Ethernet header copied");
      if (version === 4) {
        assert.equal(v.getUint16(l3 + 2), f.length - 14, "total length");
        assert.equal(v.getUint16(l3 + 4), (0xfffe + i) & 0xffff, "id increments and wraps");
        assert.equal(v.getUint16(l3 + 6), 0x4000, "DF kept");
      } else assert.equal(v.getUint16(l3 + 4), f.length - 54, "payload length");
      assert.equal(v.getUint32(l4 + 4), (seq + i * mss) >>> 0, "sequence number");
      assert.equal(v.getUint32(l4 + 8), 777, "ack number kept");
      const flags = f[l4 + 13];
      const last = i === n - 1;
      assert.equal(flags & (FIN | PSH), last ? FIN | PSH : 0, `FIN/PSH only on the last (segment ${i})`);
      assert.equal(flags & CWR, i === 0 ? CWR : 0, "CWR only on the first");
      assert.equal(flags & ACK, ACK);
      assert.deepEqual(f.subarray(l4 + 20, l4 + 32), tcpOptions, "TCP options copied");
      checkSums(f, version);
      got.push(...f.subarray(hdr));
    });
    assert.deepEqual(Uint8Array.from(got), payload, "the payload reassembles");
  });
}

test("IPv4 options and a VLAN tag are carried into every segment", () => {
  const ipOptions = Uint8Array.of(0x94, 4, 0, 0); // Router Alert
  const payload = payloadOf(3000);
  const sup = tcpFrame({ version: 4, payload, ipOptions, vlan: 42 });
  const r = segmentTcp(sup, 1000, 4);
  assert.ok("frames" in r);
  assert.equal(r.frames.length, 3);
  for (const f of r.frames) {
    assert.deepEqual(f.subarray(12, 16), Uint8Array.of(0x81, 0, 0, 42));
    assert.equal(f[18], 0x46, "IHL 6");
    assert.deepEqual(f.subarray(38, 42), ipOptions);
    assert.equal(f.length, 18 + 24 + 20 + 1000);
    checkSums(f, 4);
  }
});

test("a super-frame no longer than one MSS becomes one segment; an empty payload one header-only segment", () => {
  const one = segmentTcp(tcpFrame({ version: 4, payload: payloadOf(100), flags: FIN | ACK }), 1448, 4);
  assert.ok("frames" in one);
  assert.equal(one.frames.length, 1);
  assert.equal(one.frames[0][34 + 13], FIN | ACK);
  checkSums(one.frames[0], 4);
  const empty = segmentTcp(tcpFrame({ version: 6, payload: new Uint8Array(0) }), 1448, 6);
  assert.ok("frames" in empty);
  assert.equal(empty.frames.length, 1);
  checkSums(empty.frames[0], 6);
});

test("the checksum the guest left (partial or garbage) does not matter: segments are summed from scratch", () => {
  const sup = tcpFrame({ version: 4, payload: payloadOf(5000), partial: true });
  sup[14 + 10] ^= 0xff; // a wrong IP header checksum too
  const r = segmentTcp(sup, 1460, 4);
  assert.ok("frames" in r);
  for (const f of r.frames) checkSums(f, 4);
});

test("hostile super-frames are refused with a reason, never thrown", () => {
  const good = tcpFrame({ version: 4, payload: payloadOf(4000) });
  const cases: [string, Uint8Array, number, 4 | 6][] = [
    ["gso_size 0", good, 0, 4],
    ["declared IPv6, is IPv4", good, 1000, 6],
    ["declared IPv4, is IPv6", tcpFrame({ version: 6, payload: payloadOf(10) }), 1000, 4],
    ["truncated IP header", good.slice(0, 30), 1000, 4],
    ["truncated TCP header", good.slice(0, 34 + 10), 1000, 4],
    ["not even Ethernet", good.slice(0, 10), 1000, 4],
  ];
  const udp = good.slice();
  udp[14 + 9] = 17;
  cases.push(["UDP with TCP GSO", udp, 1000, 4]);
  const frag = good.slice();
  frag[14 + 6] = 0x20; // MF
  cases.push(["an IPv4 fragment", frag, 1000, 4]);
  const ihl = good.slice();
  ihl[14] = 0x4f; // IHL 15: 60-byte header, eating into TCP
  cases.push(["IHL beyond the headers", ihl.slice(0, 14 + 40), 1000, 4]);
  const ihlSmall = good.slice();
  ihlSmall[14] = 0x43;
  cases.push(["IHL below 5", ihlSmall, 1000, 4]);
  const doff = good.slice();
  doff[34 + 12] = 0x20; // data offset 8 bytes
  cases.push(["TCP data offset below 20", doff, 1000, 4]);
  const doffBig = good.slice(0, 34 + 40);
  doffBig[34 + 12] = 0xf0; // 60 bytes, frame has 40
  cases.push(["TCP data offset past the frame", doffBig, 1000, 4]);
  const arp = good.slice();
  arp[12] = 0x08;
  arp[13] = 0x06;
  cases.push(["ARP", arp, 1000, 4]);
  const huge = tcpFrame({ version: 4, payload: payloadOf(65535 - 40 + 10) });
  cases.push(["one segment beyond IP's 16-bit length", huge, 0xffff, 4]);
  for (const [what, f, mss, v] of cases) {
    const r = segmentTcp(f, mss, v);
    assert.ok("error" in r, `${what}: refused`);
  }
  const tiny = segmentTcp(good, 1, 4);
  assert.ok("frames" in tiny, "MSS 1 is legal: bounded by the payload length");
  assert.equal(tiny.frames.length, 4000);
});
