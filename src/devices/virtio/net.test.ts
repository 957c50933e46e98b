/** virtio-net tests through the MMIO transport, including two NICs on a hub. */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { NetBackend, NetPeer } from "../../io/net-backend.js";
import { GuestRam } from "../../memory/guest-ram.js";
import { NetHub } from "../../net/hub.js";
import { parseIpFrame } from "../packet/ip-frame.js";
import { payloadOf, pseudoHeader, referenceChecksum, tcpFrame } from "../packet/testing.js";
import { FakeIrq } from "../testing.js";
import { VirtioMmioTransport } from "./mmio-transport.js";
import { MAX_FRAME, VIRTIO_NET_F_MRG_RXBUF, VIRTIO_NET_HDR_BYTES, VirtioNet } from "./net.js";
import {
  VIRTIO_NET_F_CSUM,
  VIRTIO_NET_F_GUEST_CSUM,
  VIRTIO_NET_F_HOST_TSO4,
  VIRTIO_NET_F_HOST_TSO6,
  VIRTIO_NET_HDR_F_DATA_VALID,
  VIRTIO_NET_HDR_F_NEEDS_CSUM,
  VIRTIO_NET_HDR_GSO_ECN,
  VIRTIO_NET_HDR_GSO_TCPV4,
  VIRTIO_NET_HDR_GSO_TCPV6,
  VIRTIO_NET_HDR_GSO_UDP,
} from "./net-offload.js";
import { TestDriver } from "./testing.js";

class FakeNet implements NetBackend {
  sent: Uint8Array[] = [];
  handler: ((f: Uint8Array) => void) | null = null;
  send(frame: Uint8Array): void {
    this.sent.push(frame);
  }
  onReceive(handler: (f: Uint8Array) => void): void {
    this.handler = handler;
  }
  close(): void {}
}

const MAC_A = Uint8Array.of(0x52, 0x54, 0, 0, 0, 0xa);
const MAC_B = Uint8Array.of(0x52, 0x54, 0, 0, 0, 0xb);

function frame(dst: Uint8Array, src: Uint8Array, payload: string): Uint8Array {
  const p = new TextEncoder().encode(payload);
  const f = new Uint8Array(14 + p.length);
  f.set(dst, 0);
  f.set(src, 6);
  f[12] = 0x08;
  f.set(p, 14);
  return f;
}

function nic(backend: NetBackend, mac: Uint8Array) {
  const ram = new GuestRam(0x80000000, 1 << 20);
  const irq = new FakeIrq();
  const net = new VirtioNet({ backend, mac });
  const t = new VirtioMmioTransport({ device: net, ram, irq });
  const d = new TestDriver(t, ram);
  return { ram, irq, net, t, d };
}

/** Send a frame from the guest: 12-byte zero header then the frame. */
function guestSend(d: TestDriver, f: Uint8Array): void {
  d.add(1, [{ data: new Uint8Array(VIRTIO_NET_HDR_BYTES) }, { data: f }]);
  d.kick(1);
}

/** Accept everything offered except mergeable receive buffers (a driver with one buffer per frame). */
const NO_MERGE = {
  accept: (bank: number, offered: number) =>
    bank === 0 ? offered & ~(1 << VIRTIO_NET_F_MRG_RXBUF) : offered,
};

test("config: MAC and link status; features MAC and STATUS", () => {
  const { d, t } = nic(new FakeNet(), MAC_A);
  assert.equal(d.init(), true);
  assert.equal(d.reg(0x008), 1);
  assert.deepEqual(
    [0, 1, 2, 3, 4, 5].map((i) => t.read(0x100 + i, 1)),
    [...MAC_A],
  );
  assert.equal(t.read(0x106, 2), 1);
  d.setReg(0x014, 0);
  assert.equal(d.reg(0x010) & ((1 << 5) | (1 << 16)), (1 << 5) | (1 << 16));
});

test("transmit strips the virtio_net_hdr", () => {
  const be = new FakeNet();
  const { d } = nic(be, MAC_A);
  d.init();
  const f = frame(MAC_B, MAC_A, "ping");
  guestSend(d, f);
  assert.equal(be.sent.length, 1);
  assert.deepEqual([...be.sent[0]], [...f]);
  assert.equal(d.takeUsed(1)[0].len, 0);
});

test("receive writes header (num_buffers = 1) and frame; frames wait for buffers; oversize frames are dropped", () => {
  const be = new FakeNet();
  const { d, net, irq } = nic(be, MAC_A);
  d.init(NO_MERGE);
  const f = frame(MAC_A, MAC_B, "pong");
  be.handler?.(f);
  assert.equal(d.takeUsed(0).length, 0, "no buffers yet");
  const r = d.add(0, [{ writable: 1526 }]);
  d.kick(0);
  const used = d.takeUsed(0);
  assert.deepEqual(used, [{ id: r.head, len: VIRTIO_NET_HDR_BYTES + f.length }]);
  const hdr = d.bytes(r.addrs[0], VIRTIO_NET_HDR_BYTES);
  assert.deepEqual([...hdr], [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0]);
  assert.deepEqual([...d.bytes(r.addrs[0] + VIRTIO_NET_HDR_BYTES, f.length)], [...f]);
  assert.equal(irq.level, true);
  // A frame larger than the posted buffer is dropped and the buffer stays available.
  const small = d.add(0, [{ writable: 30 }]);
  d.kick(0);
  be.handler?.(frame(MAC_A, MAC_B, "x".repeat(100)));
  assert.equal(net.rxDropped, 1);
  be.handler?.(frame(MAC_A, MAC_B, "ok"));
  assert.deepEqual(d.takeUsed(0), [{ id: small.head, len: 12 + 16 }]);
});

test("link down drops traffic and raises a config change", () => {
  const be = new FakeNet();
  const { d, net, t } = nic(be, MAC_A);
  d.init();
  d.ack();
  net.setLinkUp(false);
  assert.equal(t.read(0x106, 2), 0);
  assert.equal(d.ack() & 2, 2);
  guestSend(d, frame(MAC_B, MAC_A, "lost"));
  assert.equal(be.sent.length, 0);
});

test("a runt chain shorter than the header is returned without sending", () => {
  const be = new FakeNet();
  const { d } = nic(be, MAC_A);
  d.init();
  d.add(1, [{ data: new Uint8Array(4) }]);
  d.kick(1);
  assert.equal(be.sent.length, 0);
  assert.equal(d.takeUsed(1).length, 1);
  assert.equal(d.needsReset(), false);
});

test("two NICs talk through a hub", () => {
  const hub = new NetHub();
  const a = nic(hub.port(), MAC_A);
  const b = nic(hub.port(), MAC_B);
  a.d.init();
  b.d.init();
  const rb = b.d.add(0, [{ writable: 1526 }]);
  b.d.kick(0);
  const ra = a.d.add(0, [{ writable: 1526 }]);
  a.d.kick(0);
  const f = frame(Uint8Array.of(255, 255, 255, 255, 255, 255), MAC_A, "who has");
  guestSend(a.d, f);
  assert.equal(b.d.takeUsed(0)[0].len, 12 + f.length);
  assert.deepEqual([...b.d.bytes(rb.addrs[0] + 12, f.length)], [...f]);
  assert.equal(a.d.takeUsed(0).length, 0, "the sender does not hear itself");
  const reply = frame(MAC_A, MAC_B, "is at");
  guestSend(b.d, reply);
  assert.deepEqual([...a.d.bytes(ra.addrs[0] + 12, reply.length)], [...reply]);
});

test("save/restore keeps MAC and link state", () => {
  const { net, t } = nic(new FakeNet(), MAC_A);
  net.setLinkUp(false);
  const saved = t.save();
  const other = nic(new FakeNet(), MAC_B);
  assert.equal(other.t.read(0x106, 2), 1, "the target's link starts up");
  other.t.restore(saved);
  assert.deepEqual([...other.net.mac], [...MAC_A]);
  assert.equal(other.t.read(0x106, 2), 0);
});

/** num_buffers, the le16 at offset 10 of the header the device wrote at `addr`. */
function numBuffers(d: TestDriver, addr: number): number {
  const h = d.bytes(addr, VIRTIO_NET_HDR_BYTES);
  return h[10] | (h[11] << 8);
}

test("MRG_RXBUF is offered; a frame larger than one buffer spans several (§5.1.6.3.2)", () => {
  const be = new FakeNet();
  const { d, net, irq } = nic(be, MAC_A);
  d.init();
  d.setReg(0x014, 0);
  assert.notEqual(d.reg(0x010) & (1 << VIRTIO_NET_F_MRG_RXBUF), 0);
  // A 9000-MTU frame into 1536-byte buffers (what Linux posts): ceil((12 + 9014) / 1536) = 6 buffers.
  const big = frame(MAC_A, MAC_B, "j".repeat(9000));
  const bufs = Array.from({ length: 8 }, () => d.add(0, [{ writable: 1536 }]));
  d.kick(0);
  be.handler?.(big);
  const used = d.takeUsed(0);
  assert.equal(used.length, 6);
  assert.deepEqual(
    used.map((u) => u.id),
    bufs.slice(0, 6).map((b) => b.head),
  );
  assert.deepEqual(
    used.map((u) => u.len),
    [1536, 1536, 1536, 1536, 1536, 12 + big.length - 5 * 1536],
  );
  assert.equal(numBuffers(d, bufs[0].addrs[0]), 6);
  const got = new Uint8Array(12 + big.length);
  used.forEach((u, i) => {
    got.set(d.bytes(bufs[i].addrs[0], u.len), i * 1536);
  });
  assert.deepEqual([...got.subarray(12)], [...big]);
  assert.equal(irq.level, true);
  // A small frame after it takes one buffer and says so.
  be.handler?.(frame(MAC_A, MAC_B, "small"));
  assert.deepEqual(d.takeUsed(0), [{ id: bufs[6].head, len: 12 + 19 }]);
  assert.equal(numBuffers(d, bufs[6].addrs[0]), 1);
  assert.equal(net.rxDropped, 0);
});

test("MRG_RXBUF: a frame waits, in order, until enough buffers are posted; none is used early", () => {
  const be = new FakeNet();
  const { d, net } = nic(be, MAC_A);
  d.init();
  const first = d.add(0, [{ writable: 1000 }]);
  d.kick(0);
  const big = frame(MAC_A, MAC_B, "b".repeat(2500));
  const after = frame(MAC_A, MAC_B, "after");
  be.handler?.(big);
  be.handler?.(after);
  assert.equal(d.takeUsed(0).length, 0, "one 1000-byte buffer cannot hold 2526 bytes: nothing used yet");
  d.add(0, [{ writable: 1000 }]);
  d.add(0, [{ writable: 1000 }]);
  const fourth = d.add(0, [{ writable: 1000 }]);
  d.kick(0);
  const used = d.takeUsed(0);
  assert.deepEqual(
    used.map((u) => u.len),
    [1000, 1000, 12 + big.length - 2000, 12 + after.length],
  );
  assert.equal(used[0].id, first.head);
  assert.equal(numBuffers(d, first.addrs[0]), 3);
  assert.deepEqual([...d.bytes(fourth.addrs[0] + 12, after.length)], [...after]);
  assert.equal(net.rxDropped, 0);
});

test("MRG_RXBUF: a frame no full ring could hold is dropped instead of stalling the queue", () => {
  const be = new FakeNet();
  const { d, net } = nic(be, MAC_A);
  d.init({ queueSize: 4 });
  const bufs = Array.from({ length: 4 }, () => d.add(0, [{ writable: 100 }]));
  d.kick(0);
  be.handler?.(frame(MAC_A, MAC_B, "z".repeat(1000)));
  assert.equal(net.rxDropped, 1);
  assert.equal(d.takeUsed(0).length, 0);
  const ok = frame(MAC_A, MAC_B, "fits");
  be.handler?.(ok);
  assert.deepEqual(d.takeUsed(0), [{ id: bufs[0].head, len: 12 + ok.length }]);
  assert.equal(d.needsReset(), false);
});

test("frames beyond the largest Ethernet frame are dropped both ways", () => {
  const be = new FakeNet();
  const { d, net } = nic(be, MAC_A);
  d.init();
  d.add(0, [{ writable: 0x20000 }]);
  d.kick(0);
  be.handler?.(new Uint8Array(MAX_FRAME + 1));
  assert.equal(net.rxDropped, 1);
  assert.equal(d.takeUsed(0).length, 0);
  guestSend(d, new Uint8Array(MAX_FRAME + 1));
  assert.equal(be.sent.length, 0);
  guestSend(d, new Uint8Array(MAX_FRAME));
  assert.equal(be.sent.length, 1, "a 65535-MTU frame with a VLAN tag still goes out");
});

test("detach: frames from the backend are ignored; a newer device on the backend keeps receiving", () => {
  const be = new FakeNet();
  const old = nic(be, MAC_A);
  old.d.init();
  old.d.add(0, [{ writable: 1536 }]);
  old.d.kick(0);
  const handlerOfOld = be.handler;
  const fresh = nic(be, MAC_A);
  fresh.d.init();
  fresh.d.add(0, [{ writable: 1536 }]);
  fresh.d.kick(0);
  old.net.detach();
  be.handler?.(frame(MAC_A, MAC_B, "to the new one"));
  assert.equal(fresh.d.takeUsed(0).length, 1);
  handlerOfOld?.(frame(MAC_A, MAC_B, "stale handler"));
  assert.equal(old.d.takeUsed(0).length, 0);
  assert.equal(old.net.rxDropped, 0, "a detached device does not even count the frame");
});

/** A backend with QEMU-style flow control: it asks canReceive, holds frames, and can be congested. */
class FlowNet extends FakeNet {
  peer: NetPeer | null = null;
  held: Uint8Array[] = [];
  resumes = 0;
  congested = false;
  override send(frame: Uint8Array): boolean {
    this.sent.push(frame);
    return !this.congested;
  }
  setPeer(peer: NetPeer): void {
    this.peer = peer;
  }
  /** Deliver like a socket reader: only while the NIC can take frames; the rest wait here. */
  offer(f: Uint8Array): void {
    this.held.push(f);
    this.pump();
  }
  pump(): void {
    while (this.held.length > 0 && this.peer?.canReceive()) this.handler?.(this.held.shift() as Uint8Array);
  }
  resumeReceive(): void {
    this.resumes++;
    this.pump();
  }
}

test("runts and giants from the guest are dropped and counted; good frames are counted with bytes", () => {
  const be = new FakeNet();
  const { d, net } = nic(be, MAC_A);
  d.init();
  guestSend(d, new Uint8Array(13));
  d.add(1, [{ data: new Uint8Array(VIRTIO_NET_HDR_BYTES) }, { data: new Uint8Array(MAX_FRAME + 1) }]);
  d.kick(1);
  const f = frame(MAC_B, MAC_A, "fine");
  guestSend(d, f);
  assert.equal(be.sent.length, 1);
  assert.equal(d.takeUsed(1).length, 3, "every chain is returned");
  assert.deepEqual(
    { txDropped: net.counters.txDropped, txFrames: net.counters.txFrames, txBytes: net.counters.txBytes },
    { txDropped: 2, txFrames: 1, txBytes: f.length },
  );
});

test("flow control: a backend holds frames while the guest has no buffers and resumes when it posts some", () => {
  const be = new FlowNet();
  const { d, net } = nic(be, MAC_A);
  d.init({ ...NO_MERGE, queueSize: 128 });
  for (let i = 0; i < 100; i++) be.offer(frame(MAC_A, MAC_B, `f${i}`));
  assert.equal(net.counters.rxDropped, 0, "nothing dropped: the backend kept what the NIC could not take");
  assert.ok(be.held.length > 0 && be.held.length < 100, "the NIC took some frames, then said no");
  // The guest posts buffers for everything: the NIC tells the backend, which sends the rest.
  for (let i = 0; i < 100; i++) d.add(0, [{ writable: 1526 }]);
  d.kick(0);
  assert.ok(be.resumes > 0);
  assert.equal(be.held.length, 0);
  assert.equal(d.takeUsed(0).length, 100);
  assert.equal(net.counters.rxFrames, 100);
  assert.equal(net.counters.rxDropped, 0);
});

test("flow control: a congested backend stops transmit until it is writable again", () => {
  const be = new FlowNet();
  const { d } = nic(be, MAC_A);
  d.init();
  be.congested = true;
  for (let i = 0; i < 3; i++)
    d.add(1, [{ data: new Uint8Array(VIRTIO_NET_HDR_BYTES) }, { data: frame(MAC_B, MAC_A, `t${i}`) }]);
  d.kick(1);
  assert.equal(be.sent.length, 1, "the first send said 'congested'");
  assert.equal(d.takeUsed(1).length, 1);
  be.congested = false;
  be.peer?.writable();
  assert.equal(be.sent.length, 3);
  assert.equal(d.takeUsed(1).length, 2);
});

test("carrier: a backend whose peer dies shows as link down to the guest, and up again", () => {
  const be = new FlowNet();
  const { d, net, t } = nic(be, MAC_A);
  d.init();
  d.ack();
  be.peer?.carrier(false);
  assert.equal(t.read(0x106, 2), 0);
  assert.equal(d.ack() & 2, 2, "config change interrupt");
  guestSend(d, frame(MAC_B, MAC_A, "lost"));
  assert.equal(be.sent.length, 0);
  assert.equal(net.counters.txDropped, 1);
  be.peer?.carrier(true);
  assert.equal(t.read(0x106, 2), 1);
  // The cable and the carrier are separate: unplugging keeps the link down whatever the carrier does.
  net.setLinkUp(false);
  be.peer?.carrier(true);
  assert.equal(t.read(0x106, 2), 0);
});

/** A virtio_net_hdr as a driver writes it for transmit (§5.1.6.2). */
function txHeader(h: {
  flags?: number;
  gsoType?: number;
  hdrLen?: number;
  gsoSize?: number;
  csumStart?: number;
  csumOffset?: number;
}): Uint8Array {
  const b = new Uint8Array(VIRTIO_NET_HDR_BYTES);
  const v = new DataView(b.buffer);
  b[0] = h.flags ?? 0;
  b[1] = h.gsoType ?? 0;
  v.setUint16(2, h.hdrLen ?? 0, true);
  v.setUint16(4, h.gsoSize ?? 0, true);
  v.setUint16(6, h.csumStart ?? 0, true);
  v.setUint16(8, h.csumOffset ?? 0, true);
  return b;
}

function sendWith(d: TestDriver, hdr: Uint8Array, f: Uint8Array): void {
  d.add(1, [{ data: hdr }, { data: f }]);
  d.kick(1);
}

/** The reference checksum over the TCP segment of `f` with its pseudo header is 0 when it is right. */
function tcpSumOk(f: Uint8Array): boolean {
  const ip = parseIpFrame(f);
  if (ip === null) return false;
  const seg = f.subarray(ip.l4, ip.end);
  return referenceChecksum(pseudoHeader(ip.version, 6, seg.length), seg) === 0;
}

test("offloads offered: CSUM, GUEST_CSUM, HOST_TSO4/6; no GUEST_TSO (no backend makes super-frames)", () => {
  const { d } = nic(new FakeNet(), MAC_A);
  d.init();
  d.setReg(0x014, 0);
  const f = d.reg(0x010);
  for (const bit of [
    VIRTIO_NET_F_CSUM,
    VIRTIO_NET_F_GUEST_CSUM,
    VIRTIO_NET_F_HOST_TSO4,
    VIRTIO_NET_F_HOST_TSO6,
  ])
    assert.notEqual(f & (1 << bit), 0, `bit ${bit}`);
  for (const bit of [7, 8, 9, 10, 13, 14]) assert.equal(f & (1 << bit), 0, `bit ${bit} not offered`);
});

test("NEEDS_CSUM: the device completes the checksum before the backend sees the frame (§5.1.6.2)", () => {
  for (const version of [4, 6] as const) {
    const be = new FakeNet();
    const { d, net } = nic(be, MAC_A);
    d.init();
    const l4 = version === 4 ? 34 : 54;
    const partial = tcpFrame({ version, payload: payloadOf(333), partial: true });
    assert.equal(tcpSumOk(partial), false);
    sendWith(d, txHeader({ flags: VIRTIO_NET_HDR_F_NEEDS_CSUM, csumStart: l4, csumOffset: 16 }), partial);
    assert.equal(be.sent.length, 1);
    assert.deepEqual(be.sent[0], tcpFrame({ version, payload: payloadOf(333) }));
    assert.equal(net.offloads.checksumsCompleted, 1);
  }
});

test("NEEDS_CSUM with csum_start/csum_offset outside the frame: dropped and counted, the queue goes on", () => {
  const be = new FakeNet();
  const { d, net } = nic(be, MAC_A);
  d.init();
  const f = tcpFrame({ version: 4, payload: payloadOf(10), partial: true });
  sendWith(d, txHeader({ flags: VIRTIO_NET_HDR_F_NEEDS_CSUM, csumStart: 34, csumOffset: 0xfff0 }), f);
  sendWith(d, txHeader({ flags: VIRTIO_NET_HDR_F_NEEDS_CSUM, csumStart: 0xffff, csumOffset: 16 }), f);
  // Without NEEDS_CSUM the offsets are not used at all (§5.1.6.2.2), whatever they say.
  sendWith(d, txHeader({ csumStart: 0xffff, csumOffset: 0xffff }), f);
  assert.equal(be.sent.length, 1);
  assert.deepEqual(be.sent[0], f);
  assert.equal(net.counters.txDropped, 2);
  assert.equal(net.offloads.malformed, 2);
  assert.equal(d.takeUsed(1).length, 3);
  assert.equal(d.needsReset(), false);
});

test("HOST_TSO4/6: a super-frame leaves as MSS-sized frames, counted as frames on the wire", () => {
  for (const version of [4, 6] as const) {
    const be = new FakeNet();
    const { d, net } = nic(be, MAC_A);
    d.init();
    const payload = payloadOf(60000);
    const mss = version === 4 ? 1460 : 1440; // a 1500 MTU without TCP options
    const l4 = version === 4 ? 34 : 54;
    const sup = tcpFrame({ version, payload, partial: true, seq: 5 });
    const gsoType = version === 4 ? VIRTIO_NET_HDR_GSO_TCPV4 : VIRTIO_NET_HDR_GSO_TCPV6;
    const hdr = txHeader({
      flags: VIRTIO_NET_HDR_F_NEEDS_CSUM,
      gsoType,
      hdrLen: l4 + 20,
      gsoSize: mss,
      csumStart: l4,
      csumOffset: 16,
    });
    sendWith(d, hdr, sup);
    const n = Math.ceil(60000 / mss);
    assert.equal(be.sent.length, n);
    for (const [i, f] of be.sent.entries()) {
      assert.ok(tcpSumOk(f), `segment ${i} checksum`);
      assert.equal(new DataView(f.buffer).getUint32(l4 + 4), 5 + i * mss);
      assert.ok(f.length <= 14 + 1500, "fits a 1500 MTU");
    }
    assert.equal(net.counters.txFrames, n);
    assert.equal(
      net.counters.txBytes,
      be.sent.reduce((a, f) => a + f.length, 0),
    );
    assert.deepEqual(
      { superFrames: net.offloads.superFrames, segments: net.offloads.segments },
      {
        superFrames: 1,
        segments: n,
      },
    );
  }
});

test("GSO the driver did not negotiate (or ECN, UDP) is refused; hdr_len lies do not matter", () => {
  const be = new FakeNet();
  const { d, net } = nic(be, MAC_A);
  // A driver that took checksum offload but not TSO6 (nor TSO4).
  d.init({
    accept: (bank, offered) =>
      bank === 0 ? offered & ~((1 << VIRTIO_NET_F_HOST_TSO4) | (1 << VIRTIO_NET_F_HOST_TSO6)) : offered,
  });
  const sup = tcpFrame({ version: 4, payload: payloadOf(5000) });
  const base = { flags: VIRTIO_NET_HDR_F_NEEDS_CSUM, gsoSize: 1448, csumStart: 34, csumOffset: 16 };
  sendWith(d, txHeader({ ...base, gsoType: VIRTIO_NET_HDR_GSO_TCPV4 }), sup);
  assert.equal(be.sent.length, 0);
  assert.equal(net.offloads.malformed, 1);
  const full = nic(be, MAC_A);
  full.d.init();
  for (const gsoType of [VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN, VIRTIO_NET_HDR_GSO_UDP, 0x7f])
    sendWith(full.d, txHeader({ ...base, gsoType }), sup);
  assert.equal(be.sent.length, 0);
  assert.equal(full.net.offloads.malformed, 3);
  // hdr_len is only a hint (§5.1.6.2.2): a wrong one changes nothing.
  sendWith(full.d, txHeader({ ...base, gsoType: VIRTIO_NET_HDR_GSO_TCPV4, hdrLen: 3 }), sup);
  assert.equal(be.sent.length, 4);
  assert.ok(be.sent.every(tcpSumOk));
  assert.equal(full.net.counters.txDropped, 3);
});

test("GUEST_CSUM: received frames with a right TCP checksum are marked DATA_VALID; others are not", () => {
  const be = new FakeNet();
  const { d, net } = nic(be, MAC_A);
  d.init();
  const good = tcpFrame({ version: 4, payload: payloadOf(500) });
  const bad = good.slice();
  bad[bad.length - 1] ^= 1;
  const arp = frame(MAC_A, MAC_B, "arp-ish");
  const bufs = [good, bad, arp].map(() => d.add(0, [{ writable: 1536 }]));
  d.kick(0);
  be.handler?.(good);
  be.handler?.(bad);
  be.handler?.(arp);
  assert.deepEqual(
    bufs.map((b) => d.bytes(b.addrs[0], 1)[0]),
    [VIRTIO_NET_HDR_F_DATA_VALID, 0, 0],
  );
  assert.equal(net.offloads.rxChecksumsValidated, 1);
  // A driver without GUEST_CSUM never sees flags (§5.1.6.4.1: flags must be zero).
  const plain = nic(be, MAC_A);
  plain.d.init({
    accept: (bank, offered) => (bank === 0 ? offered & ~(1 << VIRTIO_NET_F_GUEST_CSUM) : offered),
  });
  const r = plain.d.add(0, [{ writable: 1536 }]);
  plain.d.kick(0);
  be.handler?.(good);
  assert.equal(plain.d.takeUsed(0).length, 1);
  assert.equal(plain.d.bytes(r.addrs[0], 1)[0], 0);
});

test("runt frames from a backend (shorter than an Ethernet header) are dropped and counted", () => {
  const be = new FakeNet();
  const { d, net } = nic(be, MAC_A);
  d.init();
  d.add(0, [{ writable: 1536 }]);
  d.kick(0);
  be.handler?.(new Uint8Array(0));
  be.handler?.(new Uint8Array(13));
  assert.equal(net.counters.rxDropped, 2);
  assert.equal(d.takeUsed(0).length, 0);
  be.handler?.(new Uint8Array(14));
  assert.equal(d.takeUsed(0).length, 1);
});
